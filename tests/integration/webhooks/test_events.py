"""Which events a customer's answers and staff's actions commit, in order, with what: each is
written in the change's own transaction, and only when someone listens."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from bot.integrations import webhooks as hooks
from bot.integrations.delighted import people
from bot.runtime import Runtime
from bot.staff.cases import Actor
from bot.staff.desk import act
from bot.storage.hooks import EVENT_TYPES
from bot.storage.models import (
    Case,
    Contact,
    ContactChannel,
    StaffRole,
    WebhookDelivery,
    WebhookEvent,
)
from tests.conftest import Clock
from tests.helpers import SandboxCustomer, send_due


def events(rt: Runtime) -> list[tuple[str, dict[str, Any]]]:
    with rt.db.session() as s:
        rows = s.scalars(select(WebhookEvent).order_by(WebhookEvent.at, WebhookEvent.type))
        return [(e.type, e.payload) for e in rows]


def test_a_detractor_its_case_and_an_opt_out_each_commit_their_event(
    rt: Runtime, client: FlaskClient, clock: Clock
) -> None:
    ana = SandboxCustomer(client, rt)
    send_due(rt, clock, ana.invitation_id)
    ana.says("3")
    assert events(rt) == []  # nobody listens: nothing written

    with rt.db.session_for_update() as s:
        actor = hooks.Actor("cli", "cli")
        hooks.create(
            s, url="https://x.example/h", events=list(EVENT_TYPES), now=clock(), actor=actor
        )
    clock.advance(minutes=1)
    ana.says("tardó muchísimo")
    clock.advance(minutes=1)
    with rt.db.session() as s:
        case_id = s.scalar(select(Case.id))
    assert case_id is not None
    luis = Actor("7", "Luis", StaffRole.AGENT)
    act(rt, case_id, "resolve", luis, outcome="refunded")
    clock.advance(minutes=1)
    act(rt, case_id, "reopen", luis)
    clock.advance(minutes=1)
    ana.says("BAJA")

    got = events(rt)
    assert [t for t, _ in got] == [
        "case.opened",  # same moment as the completion (sorted by type within it)
        "response.completed",
        "case.resolved",
        "case.opened",
        "contact.opted_out",
    ]
    completed = got[1][1]
    assert (completed["score"], completed["comment"]) == (3, "tardó muchísimo")
    assert got[0][1] | {"case_id": 0} == {
        "case_id": 0,
        "response_id": completed["response_id"],
        "score": 3,
        "reopened": False,
        "external_id": None,
    }
    assert got[2][1]["outcome"] == "refunded" and got[3][1]["reopened"] is True
    assert got[4][1] == {"channel": "sandbox", "external_id": None}
    with rt.db.session() as s:  # emitted in order: the deliveries' ids say it
        kinds = s.execute(
            select(WebhookEvent.type).join(WebhookDelivery).order_by(WebhookDelivery.id)
        ).scalars()
        assert list(kinds)[:2] == ["response.completed", "case.opened"]


def test_a_delighted_unsubscribe_announces_the_opt_out_like_a_stop(
    rt: Runtime, clock: Clock
) -> None:
    with rt.db.session_for_update() as s:
        ana = Contact(name="Ana", phone="+525512345678", language="es")
        s.add(ana)
        s.flush()
        s.add(ContactChannel(contact_id=ana.id, channel="sms", address="+525512345678"))
        actor = hooks.Actor("cli", "cli")
        hooks.create(
            s, url="https://x.example/h", events=["contact.opted_out"], now=clock(), actor=actor
        )
        ana_id = ana.id

    people.unsubscribe(rt, str(ana_id), "api:shop", None)
    clock.advance(minutes=1)
    people.unsubscribe(rt, str(ana_id), "api:shop", None)  # already out: nothing new to announce

    # Her SMS row, and the web survey's (every configured channel, an address yet or not).
    got = sorted((kind, data["channel"], data["external_id"]) for kind, data in events(rt))
    assert got == [("contact.opted_out", "sms", None), ("contact.opted_out", "web", None)]

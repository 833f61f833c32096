"""Outbound webhooks, end to end: a change commits an event, the worker delivers it signed, and
a receiver that verifies every request with the `standardwebhooks` library itself gets it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from bot.accounts.apikeys import create_key
from bot.integrations import webhooks as hooks
from bot.privacy.erasure import erase_contact
from bot.runtime import Runtime
from bot.storage.hooks import emit, prune_deliveries
from bot.storage.models import (
    Alert,
    Contact,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)
from scheduler.webhooks import BACKOFF, JITTER, LEASE, MAX_ATTEMPTS, _claim, deliver_webhooks
from tests.conftest import Clock
from tests.fakes.webhook_receiver import Answer, Receiver
from tests.helpers import SandboxCustomer, send_due

CLI = hooks.Actor("cli", "cli")
EVERYTHING = ["response.scored", "response.completed", "contact.opted_out", "contact.erased"]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def subscribe(rt: Runtime, receiver: Receiver, events: list[str] = EVERYTHING) -> int:
    with rt.db.session_for_update() as s:
        sub, secret = hooks.create(
            s, url=receiver.url + "/hook", events=events, now=rt.clock(), actor=CLI
        )
        receiver.secrets.append(secret)
        return sub.id


def contact(rt: Runtime, external_id: str) -> int:
    with rt.db.session_for_update() as s:
        c = Contact(external_id=external_id, language="es", created_at=rt.clock())
        s.add(c)
        s.flush()
        return c.id


def happen(rt: Runtime, contact_id: int, n: int = 1) -> None:
    """A change of the contact's (an opt-out here) committing its event."""
    with rt.db.session_for_update() as s:
        data = {"channel": "sms", "n": n}
        emit(s, at=rt.clock(), kind="contact.opted_out", data=data, contact_id=contact_id)


def later(clock: Clock, attempts: int) -> None:
    """Past the retry after the `attempts`-th failure, jitter included."""
    clock.now += BACKOFF[attempts - 1] * (1 + JITTER) + timedelta(seconds=1)


def test_a_completed_answer_reaches_the_receiver_scored_then_completed_signed(
    rt: Runtime, client: FlaskClient, clock: Clock, receiver: Receiver
) -> None:
    with rt.db.session_for_update() as s:
        key = create_key(s, "shop", clock())
    r = client.post(
        "/api/v1/webhooks",
        json={"url": receiver.url, "events": ["response.scored", "response.completed"]},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert r.status_code == 201, r.json
    receiver.secrets.append(r.json["secret"])  # type: ignore[index]
    ana = SandboxCustomer(client, rt)
    send_due(rt, clock, ana.invitation_id)
    ana.says("9")
    ana.says("muy rápido el envío")
    # One pass each: the completion waits for the score (the same contact's, in order).
    assert [deliver_webhooks(rt, rt.clock()) for _ in range(3)] == [1, 1, 0]

    assert receiver.spec_problems == []
    assert receiver.types == ["response.scored", "response.completed"]
    scored, completed = receiver.data(0), receiver.data(1)
    assert (scored["score"], scored["category"]) == (9, "promoter")
    assert completed["comment"] == "muy rápido el envío"
    assert completed["response_id"] == scored["response_id"]
    assert scored["survey"] == completed["survey"] == "post-purchase"
    assert scored["order_id"] == completed["order_id"] == ana.invitation().order_id
    assert completed["event_id"] == receiver.ids[1]


def test_a_500_is_retried_with_backoff_a_lost_call_is_made_again_and_a_410_disables(
    rt: Runtime, clock: Clock, receiver: Receiver
) -> None:
    sub_id = subscribe(rt, receiver)
    ana = contact(rt, "c-1")
    happen(rt, ana)
    receiver.queue(Answer(500))
    assert deliver_webhooks(rt, clock()) == 1
    clock.advance(seconds=29)
    assert deliver_webhooks(rt, clock()) == 0  # not before its backoff
    later(clock, 1)
    assert deliver_webhooks(rt, clock()) == 1
    assert receiver.spec_problems == []
    assert len(set(receiver.ids)) == 1 and len(receiver.ids) == 2  # one event, twice
    assert receiver.data()["external_id"] == "c-1"
    with rt.db.session() as s:
        (d,) = s.scalars(select(WebhookDelivery))
        assert (d.state, d.attempts, d.last_status) == ("delivered", 2, 200)
        assert d.latency_ms is not None

    happen(rt, ana, 9)
    (lost,) = _claim(rt, clock(), 10)  # a worker claims it, then dies before the call
    assert deliver_webhooks(rt, clock()) == 0  # leased: nobody else calls meanwhile
    clock.now += LEASE + timedelta(seconds=1)
    assert deliver_webhooks(rt, clock()) == 1 and receiver.ids[-1] == lost.event_id

    receiver.queue(Answer(410))
    happen(rt, ana, 2)
    assert deliver_webhooks(rt, clock()) == 1
    happen(rt, ana, 3)
    assert deliver_webhooks(rt, clock()) == 0  # nobody calls a disabled endpoint
    with rt.db.session() as s:
        sub = s.get(WebhookSubscription, sub_id)
        assert sub is not None and sub.disabled_reason == "the endpoint answered 410 Gone"


def test_an_endpoint_failing_for_a_day_is_disabled_and_staff_are_told(
    rt: Runtime, clock: Clock, receiver: Receiver
) -> None:
    object.__setattr__(rt.settings, "staff_notify_urls", "json://127.0.0.1:9/staff")
    sub_id = subscribe(rt, receiver)
    happen(rt, contact(rt, "c-1"))
    receiver.queue(*[Answer(503)] * MAX_ATTEMPTS)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert deliver_webhooks(rt, clock()) == 1, f"attempt {attempt}"
        if attempt < MAX_ATTEMPTS:
            later(clock, attempt)
    assert len(receiver.requests) == MAX_ATTEMPTS and receiver.spec_problems == []
    with rt.db.session() as s:
        sub = s.get(WebhookSubscription, sub_id)
        assert sub is not None and sub.disabled_at == clock()
        assert sub.disabled_reason is not None and "failed for 2" in sub.disabled_reason
        (notice,) = s.scalars(select(Alert).where(Alert.kind.startswith("webhook_disabled:")))
        assert f"webhook #{sub_id}" in notice.payload["text"]
        assert s.scalar(select(WebhookDelivery.state)) == "failed"


def test_during_a_rotation_both_secrets_sign_and_the_old_one_stops_after(
    rt: Runtime, clock: Clock, receiver: Receiver
) -> None:
    sub_id = subscribe(rt, receiver)
    ana = contact(rt, "c-1")
    with rt.db.session_for_update() as s:
        new = hooks.rotate(s, sub_id, now=clock(), actor=CLI, overlap=timedelta(hours=1))
    receiver.secrets.append(new)  # the old and the new one must both verify
    happen(rt, ana)
    assert deliver_webhooks(rt, clock()) == 1
    assert receiver.spec_problems == []
    assert len(receiver.requests[0].headers["webhook-signature"].split(" ")) == 2

    clock.advance(hours=1)
    receiver.secrets = [new]
    happen(rt, ana, 2)
    assert deliver_webhooks(rt, clock()) == 1
    assert receiver.spec_problems == []
    assert len(receiver.requests[1].headers["webhook-signature"].split(" ")) == 1


def test_a_contacts_events_arrive_in_order_replay_sends_them_again_erasure_forgets_them(
    rt: Runtime, clock: Clock, receiver: Receiver
) -> None:
    sub_id = subscribe(rt, receiver)
    ana, luis = contact(rt, "ana"), contact(rt, "luis")
    happen(rt, ana, 1)
    happen(rt, ana, 2)
    happen(rt, luis, 1)
    receiver.queue(Answer(500))  # Ana's first event fails
    assert deliver_webhooks(rt, clock()) == 2  # Ana's first, Luis's; not Ana's second
    assert [r.form["data"]["external_id"] for r in receiver.requests] == ["ana", "luis"]
    later(clock, 1)
    assert deliver_webhooks(rt, clock()) == 1  # Ana's first again, delivered
    assert deliver_webhooks(rt, clock()) == 1  # then her second
    assert [r.form["data"]["n"] for r in receiver.requests[2:]] == [1, 2]

    with rt.db.session_for_update() as s:
        assert (
            hooks.replay(s, sub_id, now=clock(), actor=CLI, since=clock() - timedelta(hours=1)) == 3
        )
    assert deliver_webhooks(rt, clock()) == 2  # Ana's in order again, Luis's
    assert deliver_webhooks(rt, clock()) == 1
    assert receiver.spec_problems == []
    assert sorted(receiver.ids[4:]) == sorted(receiver.ids[1:4])  # the same event ids

    with rt.db.session_for_update() as s:  # Luis is erased: his events go, then it is told
        erase_contact(s, luis, at=clock(), actor="cli")
        assert s.scalar(select(func.count()).where(WebhookEvent.contact_key == luis)) == 0
    assert deliver_webhooks(rt, clock()) == 1
    assert receiver.types[-1] == "contact.erased" and receiver.data() == {
        "event_id": receiver.ids[-1],
        "external_id": "luis",
    }
    with rt.db.session_for_update() as s:
        assert prune_deliveries(s, clock() + timedelta(seconds=1), limit=2) == 2
        assert prune_deliveries(s, clock() + timedelta(seconds=1), limit=10) == 1
        assert hooks.deliveries(s, sub_id) == []

"""One reply path (`bot.staff.reply.reply_to_customer`), as the dashboard and the Telegram relay
call it: the channel's rules, WhatsApp's 24 h window (an approved follow-up template when the
survey has one, else a refusal that says why), opt-outs, resolved cases; and the customer's
answer landing on the case once staff have replied, with or without a card in a staff chat."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.staff.cases import Actor
from bot.staff.desk import act
from bot.staff.reply import Refused, reply_to_customer
from bot.staff.timeline import load
from bot.storage.models import CaseEvent, Message, StaffRole
from tests.conftest import Clock
from tests.e2e.staff.world import LUIS, STAFF, SURVEYS, World, make_world
from tests.fakes.base import SPECS

pytestmark = pytest.mark.skipif(not SPECS.is_dir(), reason=f"provider specs not found at {SPECS}")

ANA = Actor("dashboard:1", "Ana Ruiz", StaffRole.AGENT)
FOLLOW_UP = "HX00000000000000000000000000000f01"
WITH_TEMPLATE = (
    SURVEYS
    + f"""
[survey.staff_templates.es]
sid = "{FOLLOW_UP}"
variables = {{ "2" = "Tienda Ejemplo" }}
"""
)


@pytest.fixture
def world(database_url: str, clock: Clock, tmp_path: Path) -> Iterator[World]:
    yield from make_world(database_url, clock, tmp_path)


def detractor(world: World) -> int:
    world.purchase(store="Centro")
    world.customer_says("3")
    world.customer_says("Llegó roto")
    return world.case().id


def reply(world: World, case_id: int, text: str) -> Message | Refused:
    """What the dashboard does: the reply path in one transaction, the outbox woken after."""
    with world.rt.db.session_for_update() as s:
        sent = reply_to_customer(s, world.rt.settings, case_id, ANA, text, world.clock())
        s.flush()
        if isinstance(sent, Message):
            s.expunge(sent)
    world.rt.wake.set()
    return sent


def kinds(world: World, case_id: int) -> list[str]:
    with world.rt.db.session() as s:
        q = select(CaseEvent.kind).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
        return list(s.scalars(q))


def test_inside_the_window_the_text_goes_and_answering_takes_the_case(world: World) -> None:
    case_id = detractor(world)
    world.clock.advance(hours=23)
    sent = reply(world, case_id, "  Hola Ana, ¿te llamamos?  ")
    assert isinstance(sent, Message) and sent.kind == "staff_reply"
    world.tick()
    assert world.whatsapp_sent()[-1] == "Hola Ana, ¿te llamamos?"
    case = world.case()
    assert (case.status, case.assignee, case.assignee_id) == ("taken", "Ana Ruiz", "dashboard:1")
    assert kinds(world, case_id) == ["queued", "staff_reply", "taken", "alerted"]


def test_outside_the_window_without_a_template_it_is_refused_with_the_reason(
    world: World,
) -> None:
    case_id = detractor(world)
    world.clock.advance(hours=25)
    before = len(world.whatsapp_sent())
    sent = reply(world, case_id, "¿Seguimos?")
    assert isinstance(sent, Refused) and sent.code == "outside_window"
    assert "WhatsApp only allows replies within 24 h" in sent.reason and "25 h" in sent.reason
    assert sent.params == {"channel": "WhatsApp", "window": "24 h", "since": "25 h"}
    world.tick()
    assert len(world.whatsapp_sent()) == before
    assert world.case().status == "open"
    assert kinds(world, case_id)[:2] == ["queued", "refused"]


def test_outside_the_window_the_surveys_approved_template_goes_instead(
    database_url: str, clock: Clock, tmp_path: Path
) -> None:
    for world in make_world(database_url, clock, tmp_path, definitions=WITH_TEMPLATE):
        case_id = detractor(world)
        world.clock.advance(hours=30)
        sent = reply(world, case_id, "¿Seguimos?")
        assert isinstance(sent, Message) and sent.kind == "staff_template"
        world.tick()
        (call,) = [r.form for r in world.twilio.requests if "ContentSid" in r.form]
        assert call["ContentSid"] == FOLLOW_UP
        assert json.loads(call["ContentVariables"]) == {"1": "Ana", "2": "Tienda Ejemplo"}
        assert world.case().status == "taken"
        assert world.twilio.spec_problems == []


def test_from_the_staff_chat_too_and_the_chat_is_told_the_template_went(
    database_url: str, clock: Clock, tmp_path: Path
) -> None:
    for world in make_world(database_url, clock, tmp_path, definitions=WITH_TEMPLATE):
        detractor(world)
        world.tick()
        world.clock.advance(hours=30)
        seen = len(world.telegram.requests)
        world.staff_replies(LUIS, world.card(), "¿Seguimos?")
        world.tick()
        said = [f["text"] for m, f in world.sent_to(STAFF, seen) if m == "sendMessage"]
        assert said == [
            "📨 Outside WhatsApp's 24 h window: the survey's approved follow-up template went "
            "instead of your text. Write again once the customer answers."
        ]
        assert [r.form["ContentSid"] for r in world.twilio.requests if "ContentSid" in r.form] == [
            FOLLOW_UP
        ]
        assert world.case().assignee == "Luis Pérez"


def test_inside_the_window_the_template_only_rides_along(
    database_url: str, clock: Clock, tmp_path: Path
) -> None:
    for world in make_world(database_url, clock, tmp_path, definitions=WITH_TEMPLATE):
        case_id = detractor(world)
        sent = reply(world, case_id, "Hola")
        assert isinstance(sent, Message) and sent.kind == "staff_reply"
        assert sent.payload["needs_template"] is False and sent.payload["template"]
        world.tick()
        assert world.whatsapp_sent()[-1] == "Hola"


def test_an_opted_out_customer_gets_nothing(world: World) -> None:
    case_id = detractor(world)
    world.customer_says("BAJA")
    sent = reply(world, case_id, "¿Seguimos?")
    assert isinstance(sent, Refused) and sent.code == "opted_out"
    assert sent.reason == "⚠️ Not sent: the customer opted out of WhatsApp."


def test_a_resolved_case_takes_no_reply_until_reopened(world: World) -> None:
    case_id = detractor(world)
    act(world.rt, case_id, "resolve", ANA, "refunded")
    sent = reply(world, case_id, "¿Todo bien?")
    assert isinstance(sent, Refused) and sent.code == "resolved"
    act(world.rt, case_id, "reopen", ANA)
    assert isinstance(reply(world, case_id, "¿Todo bien?"), Message)


def test_an_empty_reply_and_a_missing_case(world: World) -> None:
    case_id = detractor(world)
    sent = reply(world, case_id, "   ")
    assert isinstance(sent, Refused) and sent.code == "not_text"
    with pytest.raises(LookupError):
        reply(world, 999, "hola")


def test_the_customers_answer_lands_on_the_case_without_any_card(world: World) -> None:
    case_id = detractor(world)  # no tick: the alert never reached a staff chat
    before = world.customer_says("¿Hola?")  # before staff answer: the usual handling
    assert kinds(world, case_id) == ["queued"]
    assert isinstance(reply(world, case_id, "Hola Ana, te escucho"), Message)
    world.clock.advance(minutes=3)
    twiml = world.customer_says("Llegó roto, quiero el reembolso")
    assert "<Message>" not in twiml, "once staff answered, the conversation is theirs"
    assert kinds(world, case_id)[-1] == "customer_reply"
    with world.rt.db.session() as s:
        found = load(s, case_id, world.clock())
        assert found is not None
        said = [(e.side, e.text) for e in found.entries if e.side != "event"]
    assert said[-2:] == [("out", "Hola Ana, te escucho"), ("in", "Llegó roto, quiero el reembolso")]
    assert ("in", "¿Hola?") in said and before

"""Closing the loop from the staff chat, end to end through the real clients.

A WhatsApp customer gives a 3 and says why → the alert card reaches the Telegram staff group →
Luis taps *Take it* → his reply to the card reaches the customer on WhatsApp → her answer comes
back into the card's thread → *Resolved*, *Refunded*. Runs on SQLite and PostgreSQL; every Bot
API call is checked against the Bot API description, every Twilio call against Twilio's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.events import DetractorResponded
from bot.inbound.answer import complete
from bot.storage.models import Alert, Case, Contact, Message, Response
from bot.survey.purchases import create_invitation, survey_by_key
from tests.conftest import Clock
from tests.e2e.staff.world import (
    ESCALATION,
    LUIS,
    MARTA,
    POLANCO,
    STAFF,
    STRANGER,
    World,
    make_world,
)
from tests.fakes.base import SPECS
from tests.helpers import write_blockers

pytestmark = pytest.mark.skipif(not SPECS.is_dir(), reason=f"provider specs not found at {SPECS}")


@pytest.fixture
def world(database_url: str, clock: Clock, tmp_path: Path) -> Iterator[World]:
    yield from make_world(database_url, clock, tmp_path)


def detractor(world: World, **meta: str) -> None:
    world.purchase(**meta)
    assert "<Message>" in world.customer_says("3")  # the why-question, inline
    world.customer_says("Llegó roto y nadie me responde")


def test_detractor_alert_take_reply_answer_resolve(world: World) -> None:
    detractor(world, store="Centro", product="Licuadora")
    assert world.rt.wake.is_set(), "the alert wakes the loop instead of waiting for a tick"
    world.tick()
    ((method, card),) = world.sent_to(STAFF)
    assert method == "sendMessage"
    text = card["text"]
    for shown in (
        "Detractor 3/10",
        "Llegó roto y nadie me responde",
        "Ana",
        "+52•••5678",
        "whatsapp",
        "store: Centro",
        "product: Licuadora",
        "Bought 26 h ago",
        "Open",
    ):
        assert shown in text
    assert CUSTOMERS_NUMBER not in text  # masked
    labels = [b["text"] for row in card["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == ["🙋 Take it", "✅ Resolved"]

    ref = world.card()
    seen = len(world.telegram.requests)
    world.clock.advance(minutes=4)
    world.tap(LUIS, ref, "Take it")
    world.tick()
    calls = world.sent_to(STAFF, seen)
    assert [m for m, _ in calls] == ["answerCallbackQuery", "editMessageText"]
    assert "Taken by Luis Pérez · 4 min to take" in calls[1][1]["text"]
    assert world.case().status == "taken" and world.case().assignee_id == str(LUIS["id"])

    world.staff_replies(LUIS, ref, "Hola Ana, soy del equipo. ¿Te llamamos hoy a las 5?")
    world.tick()
    assert world.whatsapp_sent()[-1] == "Hola Ana, soy del equipo. ¿Te llamamos hoy a las 5?"

    seen = len(world.telegram.requests)
    twiml = world.customer_says("Sí, a las 5 está bien")
    assert "<Message>" not in twiml, "once staff answered, the conversation is theirs"
    world.tick()
    ((method, relayed),) = world.sent_to(STAFF, seen)
    assert method == "sendMessage" and relayed["text"] == "💬 Ana: Sí, a las 5 está bien"
    assert relayed["reply_parameters"]["message_id"] == int(ref.split(":")[1])

    world.clock.advance(hours=2)
    world.tap(MARTA, ref, "Resolved")
    world.tick()
    world.tap(MARTA, ref, "Refunded")
    world.tick()
    edit = [f for m, f in world.sent_to(STAFF) if m == "editMessageText"][-1]
    assert "Resolved by Luis Pérez · 💸 Refunded" in edit["text"]
    assert "↩️ Reopen" in [b["text"] for row in edit["reply_markup"]["inline_keyboard"] for b in row]
    case = world.case()
    assert (case.status, case.outcome) == ("resolved", "refunded")
    assert case.taken_at is not None and case.resolved_at is not None
    assert (case.taken_at - case.created_at).total_seconds() == 240
    assert world.events() == [
        "queued",
        "alerted",
        "taken",
        "staff_reply",
        "customer_reply",
        "resolved",
        "outcome",
    ]

    world.tap(LUIS, ref, "Reopen")
    world.tick()
    assert world.case().status == "taken" and world.case().resolved_at is None


CUSTOMERS_NUMBER = "+5215512345678"


def test_a_non_member_or_another_chat_is_refused(world: World) -> None:
    detractor(world)
    world.tick()
    ref = world.card()

    seen = len(world.telegram.requests)
    world.tap(STRANGER, ref, "Take it")
    world.tick()
    calls = world.sent_to(STAFF, seen)
    assert [m for m, _ in calls] == ["answerCallbackQuery", "sendMessage"]
    assert calls[1][1]["text"] == "⛔ Only members of the staff chat can act on cases."
    checks = [r.form for r in world.telegram.requests if r.path.endswith("/getChatMember")]
    assert checks == [{"chat_id": int(STAFF), "user_id": STRANGER["id"]}]

    world.tap(LUIS, ref, "Take it", chat="-1004444444444")  # a card forwarded elsewhere
    world.tick()
    refusal = [f for m, f in world.sent_to("-1004444444444") if m == "sendMessage"]
    assert [f["text"] for f in refusal] == ["⛔ Cases can only be handled from a staff chat."]

    world.staff_replies(STRANGER, ref, "soy un intruso")
    world.tick()
    assert "soy un intruso" not in world.whatsapp_sent()
    assert world.case().status == "open"
    assert world.events().count("refused") == 2  # two taps; the reply never reached the case


def test_a_reply_outside_the_whatsapp_window_is_refused_with_the_reason(world: World) -> None:
    detractor(world)
    world.tick()
    ref = world.card()
    world.clock.advance(hours=25)
    sent_before = len(world.whatsapp_sent())
    world.staff_replies(LUIS, ref, "¿Seguimos?")
    world.tick()
    assert len(world.whatsapp_sent()) == sent_before
    (refusal,) = [f["text"] for m, f in world.sent_to(STAFF) if m == "sendMessage"][1:]
    assert "WhatsApp only allows replies within 24 h" in refusal and "25 h" in refusal


def test_membership_is_asked_of_telegram_outside_any_transaction(
    world: World, database_url: str
) -> None:
    detractor(world)
    world.tick()
    ref = world.card()
    pool = world.rt.db.engine.pool
    world.telegram.busy = lambda: (
        [f"{pool.checkedout()} checked out"]
        * bool(  # type: ignore[attr-defined]
            pool.checkedout()  # type: ignore[attr-defined]
        )
        + write_blockers(database_url)
    )
    world.tap(STRANGER, ref, "Take it")
    world.staff_replies(MARTA, ref, "Hola Ana, te llamo hoy")
    assert world.telegram.busy_seen == [[], []]  # one getChatMember each, nothing held


def test_escalations_when_not_taken_and_when_not_resolved(world: World) -> None:
    detractor(world)
    world.tick()
    world.clock.advance(minutes=29)
    world.tick()
    assert world.sent_to(ESCALATION) == []

    world.clock.advance(minutes=2)
    world.tick()
    world.tick()  # once only
    ((method, card),) = world.sent_to(ESCALATION)
    assert method == "sendMessage" and card["text"].startswith("⏰ Not taken after 30 min")

    world.tap(LUIS, world.card(ESCALATION, "escalate_take"), "Take it")
    world.tick()
    # Both cards show who took it.
    edits = [f["chat_id"] for m, f in world.sent_to(STAFF) if m == "editMessageText"]
    assert edits == [int(STAFF)]
    world.clock.advance(hours=24)
    world.tick()
    texts = [f["text"] for m, f in world.sent_to(ESCALATION) if m == "sendMessage"]
    assert texts[-1].startswith("⏰ Not resolved after 24 h")


def test_a_missing_why_times_out_and_the_alert_goes_out(world: World) -> None:
    world.purchase()
    world.customer_says("2")
    world.tick()
    assert world.sent_to(STAFF) == []
    world.clock.advance(minutes=31)
    world.tick()
    world.tick()
    ((_, card),) = world.sent_to(STAFF)
    assert "Detractor 2/10" in card["text"] and "(no comment)" in card["text"]
    with world.rt.db.session() as s:
        response = s.scalar(select(Response))
        assert response is not None and response.completed_at is not None


def test_routes_by_store_and_one_alert_per_destination(world: World) -> None:
    detractor(world, store="polanco")
    world.tick()
    assert len(world.sent_to(POLANCO)) == 1 and len(world.sent_to(STAFF)) == 1
    # A redelivered event alerts nobody twice.
    case = world.case()
    world.rt.bus.publish(DetractorResponded(case.response_id, case.id))
    world.tick()
    with world.rt.db.session() as s:
        assert len(list(s.scalars(select(Alert)))) == 2
    # The customer's message reaches both threads.
    world.customer_says("¿Hola?")
    world.tick()
    assert [f["text"] for m, f in world.sent_to(POLANCO)][-1] == "💬 Ana: ¿Hola?"


def test_a_staff_group_gets_at_most_twenty_messages_a_minute(world: World) -> None:
    now = world.clock()
    events: list[object] = []
    inv_id = world.purchase()
    with world.rt.db.session() as s:
        contact = s.scalar(select(Contact))
        assert contact is not None
        for i in range(25):
            survey = survey_by_key(s, "post-purchase")
            assert survey is not None
            inv = create_invitation(
                s,
                survey,
                contact,
                now=now,
                delay_minutes=0,
                order_id=f"B-{i}",
                channels=["whatsapp"],
            )
            inv.state = "completed"
            r = Response(
                invitation_id=inv.id,
                survey_id=survey.id,
                contact_id=contact.id,
                channel="whatsapp",
                score=1,
                category="detractor",
                scored_at=now,
            )
            s.add(r)
            complete(s, r, now, events)  # type: ignore[arg-type]
    world.rt.bus.publish(*events)  # type: ignore[arg-type]
    assert inv_id
    world.tick()
    assert len(world.sent_to(STAFF)) == 20
    world.clock.advance(seconds=61)
    world.tick()
    assert len(world.sent_to(STAFF)) == 25


def test_promoters_get_the_review_link_once_and_nobody_else_does(world: World) -> None:
    world.purchase()
    world.customer_says("10")
    world.customer_says("Todo perfecto")
    world.tick()
    world.customer_says("y rápido")  # added to the comment: no second link
    world.tick()
    links = [b for b in world.whatsapp_sent() if "https://g.page/r/acme/review" in b]
    assert links == [
        "¡Gracias! Si tienes un minuto, tu reseña nos ayudaría mucho: https://g.page/r/acme/review"
    ]
    with world.rt.db.session() as s:
        assert s.scalar(select(Case)) is None  # a promoter is no case

    world.purchase()
    world.customer_says("8")
    world.customer_says("bien")
    world.tick()
    assert len([b for b in world.whatsapp_sent() if "g.page" in b]) == 1


def test_customers_never_see_staff_names(world: World) -> None:
    detractor(world)
    world.tick()
    world.staff_replies(LUIS, world.card(), "Te llamamos hoy")
    world.tick()
    assert world.whatsapp_sent()[-1] == "Te llamamos hoy"
    with world.rt.db.session() as s:
        row = s.scalar(select(Message).where(Message.kind == "staff_reply"))
        assert row is not None and "Luis" not in row.text

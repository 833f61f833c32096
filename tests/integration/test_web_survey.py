"""The web survey page's answers, on both databases: stored and analysed like a chat answer
(channel `web`), one answer per token, closed with the invitation; `web` as the last resort of
the dispatcher; `start_web_survey` for a touchpoint without a chat."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.events import DetractorResponded, RecordingBus, ResponseCompleted
from bot.inbound.page import Step, answer_score, answer_why, view
from bot.runtime import Runtime
from bot.storage.models import Case, Contact, Invitation, Message, Response, Survey
from bot.survey.contacts import ensure_channel
from bot.survey.purchases import create_invitation, survey_by_key
from bot.survey.weblink import read_token, start_web_survey, survey_url
from scheduler.loop import tick
from tests.conftest import Clock

WHY = "La entrega tardó una semana y nadie contestó el teléfono"


def invitation(rt: Runtime, channels: list[str] | None = None, **over: Any) -> int:
    """A customer's invitation, scheduled two hours from now (a purchase's)."""
    with rt.db.session() as s:
        contact = Contact(name="Ana", language="es", phone="+525512345678", created_at=rt.clock())
        s.add(contact)
        s.flush()
        ensure_channel(s, contact, "sandbox", f"sandbox-{contact.id}")
        survey = survey_by_key(s, rt.surveys[0].key)
        assert survey is not None
        inv = create_invitation(
            s, survey, contact, now=rt.clock(), delay_minutes=120, channels=channels or ["sandbox"]
        )
        for k, v in over.items():
            setattr(inv, k, v)
        return inv.id


def step(rt: Runtime, inv_id: int) -> Step:
    v = view(rt, inv_id)
    assert v is not None
    return v.step


def stored(rt: Runtime, inv_id: int) -> tuple[Invitation, Response | None]:
    with rt.db.session() as s:
        inv = s.get(Invitation, inv_id)
        assert inv is not None
        return inv, inv.response


def test_a_detractor_answers_on_the_page_and_it_is_stored_and_analysed_like_a_chat_answer(
    rt: Runtime, bus: RecordingBus
) -> None:
    inv_id = invitation(rt)
    assert step(rt, inv_id) is Step.SCORE
    answer_score(rt, inv_id, 3)
    inv, r = stored(rt, inv_id)
    # Asked on the web now: the customer is on the page; the dispatcher will not send it.
    assert (inv.state, inv.channel, inv.sent_at) == ("awaiting_reason", "web", rt.clock())
    assert r is not None and (r.score, r.category, r.channel) == (3, "detractor", "web")
    assert step(rt, inv_id) is Step.WHY

    answer_why(rt, inv_id, WHY)
    inv, r = stored(rt, inv_id)
    assert inv.state == "completed"
    assert r is not None and r.comment == WHY and r.completed_at == rt.clock()
    assert "delivery" in r.themes and r.comment_language == "es" and r.sentiment is not None
    assert step(rt, inv_id) is Step.THANKS
    with rt.db.session() as s:
        assert s.scalar(select(Case).where(Case.response_id == r.id)) is not None
        rows = s.scalars(select(Message).where(Message.channel == "web").order_by(Message.id)).all()
        said = [(m.direction, m.kind, m.text) for m in rows]
    assert [d for d, _k, _t in said] == ["out", "in", "out", "in", "out"]  # the conversation
    assert said[1][2] == "3" and said[3][2] == WHY
    assert any(isinstance(e, DetractorResponded) for e in bus.events)
    assert any(isinstance(e, ResponseCompleted) for e in bus.events)


def test_one_answer_per_token_a_second_submit_changes_nothing(rt: Runtime) -> None:
    inv_id = invitation(rt)
    answer_score(rt, inv_id, 9)
    answer_score(rt, inv_id, 2)  # the back button, another score: the why is asked now
    inv, r = stored(rt, inv_id)
    assert r is not None and (inv.state, r.score) == ("awaiting_reason", 9)
    answer_why(rt, inv_id, "Muy rápido")
    answer_why(rt, inv_id, "Muy rápido")  # a double tap
    answer_why(rt, inv_id, "otra cosa")
    answer_score(rt, inv_id, 0)
    inv, r = stored(rt, inv_id)
    assert r is not None
    assert (inv.state, r.score, r.category, r.comment) == ("completed", 9, "promoter", "Muy rápido")
    with rt.db.session() as s:
        inbound = s.scalars(
            select(Message.text).where(Message.channel == "web", Message.direction == "in")
        ).all()
    assert inbound == ["9", "Muy rápido"]


def test_an_empty_why_completes_without_a_comment_and_a_keyword_is_a_comment(
    rt: Runtime,
) -> None:
    quiet, stop = invitation(rt), invitation(rt)
    for inv_id, why in ((quiet, ""), (stop, "BAJA")):
        answer_score(rt, inv_id, 7)
        answer_why(rt, inv_id, why)
    assert stored(rt, quiet)[1] is not None and stored(rt, quiet)[1].comment is None
    inv, r = stored(rt, stop)
    assert inv.state == "completed" and r is not None and r.comment == "BAJA"  # not an opt-out


def test_the_page_closes_with_the_invitation(rt: Runtime, clock: Clock) -> None:
    asked = invitation(rt)
    answer_score(rt, asked, 8)
    answer_why(rt, asked, "")
    waiting = invitation(rt)  # never answered: due in 2 h, then the survey's 72 h
    clock.advance(hours=2 + 72 - 1)
    assert step(rt, waiting) is Step.SCORE
    clock.advance(hours=1)
    assert step(rt, waiting) is Step.CLOSED
    answer_score(rt, waiting, 5)
    inv, r = stored(rt, waiting)
    assert (inv.state, r) == ("scheduled", None)
    assert step(rt, asked) is Step.THANKS  # answered: thanks
    # Asked on the web, then expired by the sweep: closed too.
    late = invitation(rt)
    answer_score(rt, late, 10)
    with rt.db.session() as s:
        inv = s.get(Invitation, late)
        assert inv is not None
        inv.state = "asked"
        inv.expires_at = clock() - timedelta(minutes=1)
    assert step(rt, late) is Step.CLOSED
    skipped = invitation(rt, state="skipped", skip_reason="resurvey_window")
    assert step(rt, skipped) is Step.CLOSED
    assert view(rt, 10**9) is None


def test_web_is_the_last_resort_when_no_chat_channel_can_send(rt: Runtime, clock: Clock) -> None:
    # SMS and WhatsApp are not configured here: the survey goes out on the web.
    inv_id = invitation(rt, ["whatsapp", "sms", "web"], delay_minutes=0)
    with rt.db.session() as s:
        inv = s.get(Invitation, inv_id)
        assert inv is not None
        inv.due_at = clock()
    tick(rt)
    inv, _ = stored(rt, inv_id)
    assert (inv.state, inv.channel) == ("asked", "web")
    assert inv.sent_at is not None and inv.expires_at == inv.sent_at + timedelta(hours=72)
    with rt.db.session() as s:
        question = s.scalar(select(Message).where(Message.invitation_id == inv_id))
        assert question is not None and (question.channel, question.kind) == ("web", "question")
    answer_score(rt, inv_id, 10)
    answer_why(rt, inv_id, "Todo perfecto")
    assert [r.channel for r in stored(rt, inv_id)[1:] if r is not None] == ["web"]
    clock.advance(hours=30)
    tick(rt)  # no reminder on the page: nobody to write to
    with rt.db.session() as s:
        kinds = s.scalars(select(Message.kind).where(Message.invitation_id == inv_id)).all()
    assert "reminder" not in kinds


def test_start_web_survey_makes_an_anonymous_invitation_asked_on_the_web(rt: Runtime) -> None:
    with rt.db.session() as s:
        s.add(Survey(key="in-store", name="In store", channels=["sms"], texts={}, options={}))
    with pytest.raises(LookupError):
        start_web_survey(rt, "no-such-survey", {}, rt.clock())
    url = start_web_survey(rt, "in-store", {"store": "Centro"}, rt.clock(), language="pt")
    assert url.startswith("/s/")
    inv_id = read_token(rt.settings.secret_key, url.removeprefix("/s/"))
    assert inv_id is not None and url == survey_url(rt, inv_id)
    inv, _ = stored(rt, inv_id)
    assert (inv.state, inv.channel, inv.meta, inv.language) == (
        "asked",
        "web",
        {"store": "Centro"},
        "pt",
    )
    v = view(rt, inv_id)
    assert v is not None and v.step is Step.SCORE and v.texts.language == "pt"
    answer_score(rt, inv_id, 6)
    answer_why(rt, inv_id, "Fila muito longa no caixa")
    with rt.db.session() as s:
        r = s.scalar(select(Response).where(Response.invitation_id == inv_id))
        assert r is not None and (r.channel, r.category, r.comment_language) == (
            "web",
            "detractor",
            "pt",
        )
        contact = s.get(Contact, r.contact_id)
        assert contact is not None and (contact.name, contact.phone) == (None, None)


def test_a_survey_asked_in_a_chat_can_be_answered_on_its_page(rt: Runtime) -> None:
    inv_id = invitation(rt, state="asked", channel="sandbox", sent_at=rt.clock())
    with rt.db.session() as s:
        inv = s.get(Invitation, inv_id)
        assert inv is not None
        inv.expires_at = rt.clock() + timedelta(hours=72)
    answer_score(rt, inv_id, 8)
    answer_why(rt, inv_id, "Buen precio")
    inv, r = stored(rt, inv_id)
    assert (inv.state, inv.channel, inv.sent_at) == ("completed", "sandbox", rt.clock())
    assert r is not None and (r.channel, r.score, r.category) == ("web", 8, "passive")

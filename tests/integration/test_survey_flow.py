"""A whole survey through the sandbox channel, the webhook and the dispatcher, on both databases."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from bot.events import DetractorResponded, RecordingBus, ResponseCompleted
from bot.runtime import Runtime
from bot.storage.models import Case, Contact, ContactChannel, Message, Response
from scheduler.loop import tick
from tests.conftest import Clock, at_hours
from tests.helpers import SandboxCustomer

QUESTION_ES = (
    "Considerando tu experiencia completa con nosotros, ¿qué tan probable es que nos "
    "recomiendes con tus amigos y familiares? Responde con un número del 0 al 10."
)


@at_hours
def test_the_scheduler_sends_the_classic_question_after_a_purchase(
    client: FlaskClient, rt: Runtime
) -> None:
    ana = SandboxCustomer(client, rt)
    assert ana.invitation().state == "scheduled"
    assert ana.receive_survey() == QUESTION_ES
    assert ana.invitation().state == "asked"
    assert ana.invitation().channel == "sandbox"


def test_score_then_why_then_thanks_is_stored(
    client: FlaskClient, rt: Runtime, bus: RecordingBus
) -> None:
    ana = SandboxCustomer(client, rt)
    ana.receive_survey()
    assert ana.says("nueve") == ["¡Qué gusto! ¿Qué es lo que más te gusta de nosotros?"]
    assert ana.invitation().state == "awaiting_reason"
    assert ana.says("La atención del personal") == ["¡Gracias! Nos alegra mucho tu respuesta."]
    response = ana.response()
    assert response is not None
    assert (response.score, response.category) == (9, "promoter")
    assert response.comment == "La atención del personal"
    assert response.completed_at is not None
    assert ana.invitation().state == "completed"
    assert [type(e) for e in bus.events if isinstance(e, ResponseCompleted)] == [ResponseCompleted]


@pytest.mark.parametrize(
    ("language", "why", "thanks"),
    [
        pytest.param("en", "We're sorry to hear that.", "Thank you for telling us.", id="en"),
        pytest.param("pt", "Sentimos muito.", "Obrigado por nos contar.", id="pt"),
        pytest.param("es", "Lamentamos escuchar eso.", "Gracias por contarnos.", id="es"),
    ],
)
def test_a_detractor_is_asked_why_in_their_language_and_becomes_a_case(
    client: FlaskClient, rt: Runtime, bus: RecordingBus, language: str, why: str, thanks: str
) -> None:
    customer = SandboxCustomer(client, rt, language=language)
    customer.receive_survey()
    assert customer.says("3")[0].startswith(why)
    assert customer.says("slow, cold food")[0].startswith(thanks)
    with rt.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 1
    assert any(isinstance(e, DetractorResponded) for e in bus.events)


def test_a_score_and_a_reason_in_one_message_skip_the_why(client: FlaskClient, rt: Runtime) -> None:
    ana = SandboxCustomer(client, rt)
    ana.receive_survey()
    assert ana.says("8, la entrega tardó") == ["¡Gracias! Tus comentarios nos ayudan a mejorar."]
    response = ana.response()
    assert response is not None
    assert (response.score, response.comment) == (8, "la entrega tardó")
    assert ana.invitation().state == "completed"


def test_an_unparseable_reply_is_asked_again_twice_then_closed_politely(
    client: FlaskClient, rt: Runtime
) -> None:
    ana = SandboxCustomer(client, rt)
    ana.receive_survey()
    assert ana.says("hola")[0].startswith("Perdona, no entendí")
    assert ana.says("muy bueno")[0].startswith("Perdona, no entendí")
    assert ana.says("👍")[0].startswith("No hay problema")
    assert ana.invitation().state == "unanswered"
    assert ana.response() is None


def test_a_bare_number_while_waiting_for_the_why_corrects_the_score(
    client: FlaskClient, rt: Runtime
) -> None:
    ana = SandboxCustomer(client, rt)
    ana.receive_survey()
    ana.says("6")
    assert ana.says("9") == ["¡Qué gusto! ¿Qué es lo que más te gusta de nosotros?"]
    response = ana.response()
    assert response is not None and (response.score, response.category) == (9, "promoter")
    assert ana.invitation().state == "awaiting_reason"


@pytest.mark.parametrize("word", ["STOP", "baja", "Parar", "CANCELAR.", "unsubscribe"])
def test_stop_words_opt_out_of_the_channel_with_a_confirmation(
    client: FlaskClient, rt: Runtime, word: str
) -> None:
    ana = SandboxCustomer(client, rt)
    ana.receive_survey()
    assert ana.says(word)[0].startswith("Listo: no recibirás más encuestas")
    assert ana.invitation().state == "opted_out"
    with rt.db.session() as s:
        cc = s.scalar(select(ContactChannel).where(ContactChannel.address == ana.address))
        assert cc is not None and cc.opted_out_at is not None
    assert ana.says("ALTA")[0].startswith("Te suscribiste de nuevo")
    with rt.db.session() as s:
        cc = s.scalar(select(ContactChannel).where(ContactChannel.address == ana.address))
        assert cc is not None and cc.opted_out_at is None


@pytest.mark.parametrize("word", ["HELP", "ayuda", "Ajuda"])
def test_help_words_answer_with_help_and_keep_the_survey_open(
    client: FlaskClient, rt: Runtime, word: str
) -> None:
    ana = SandboxCustomer(client, rt)
    ana.receive_survey()
    assert "BAJA" in ana.says(word)[0]
    assert ana.invitation().state == "asked"


def test_a_message_with_no_survey_open_gets_a_polite_answer(
    client: FlaskClient, rt: Runtime
) -> None:
    ana = SandboxCustomer(client, rt)  # the survey is not sent yet
    assert ana.says("hola") == [
        "¡Gracias por tu mensaje! No tienes ninguna encuesta abierta en este momento."
    ]


@at_hours
def test_a_late_answer_to_an_expired_survey_is_recorded_as_late(
    client: FlaskClient, rt: Runtime, clock: Clock
) -> None:
    ana = SandboxCustomer(client, rt)
    ana.receive_survey()
    clock.advance(hours=73)  # the default survey expires after 72 h
    ana.receive_survey()  # the scheduler's sweep expires it
    assert ana.invitation().state == "expired"
    assert ana.says("10")[0].startswith("¡Gracias! Esta encuesta ya había cerrado")
    response = ana.response()
    assert response is not None and response.late and response.score == 10


def test_a_redelivered_message_is_answered_the_same_and_stored_once(
    client: FlaskClient, rt: Runtime
) -> None:
    ana = SandboxCustomer(client, rt)
    ana.receive_survey()
    first = ana.says("7", id="provider-id-1")
    again = ana.says("7", id="provider-id-1")
    assert first == again
    with rt.db.session() as s:
        inbound = s.scalar(
            select(func.count()).select_from(Message).where(Message.provider_id == "provider-id-1")
        )
        assert inbound == 1
    assert ana.invitation().state == "awaiting_reason"


def test_a_message_after_the_thanks_is_added_to_the_comment(
    client: FlaskClient, rt: Runtime
) -> None:
    ana = SandboxCustomer(client, rt)
    ana.receive_survey()
    ana.says("4")
    ana.says("Llegó tarde")
    assert ana.says("y frío") == ["Gracias, lo agregamos a tus comentarios."]
    response = ana.response()
    assert response is not None and response.comment == "Llegó tarde\ny frío"


def test_two_messages_arriving_at_once_are_applied_one_after_the_other(
    client: FlaskClient, rt: Runtime
) -> None:
    ana = SandboxCustomer(client, rt)
    ana.receive_survey()
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def send(text: str) -> None:
        c = client.application.test_client()
        barrier.wait()
        r = c.post(
            "/webhooks/sandbox",
            json={"id": uuid.uuid4().hex, "from": ana.address, "text": text},
        )
        statuses.append(r.status_code)

    threads = [threading.Thread(target=send, args=("9",)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200, 200]
    with rt.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Response)) == 1
    assert ana.invitation().state == "awaiting_reason"


# The sandbox at any hour: quiet hours (21:00-09:00 by default) once left the phone blank for
# twelve hours of every day. These tests start at each of HOURS, not only 15:00 UTC.


def _at(clock: Clock, hour: int, minute: int) -> None:
    clock.now = datetime(2026, 11, 22, hour, minute, tzinfo=UTC)


def _buy(client: FlaskClient, **body: object) -> dict[str, Any]:
    r = client.post("/sandbox/purchase", json={"name": "Ana", "language": "es", **body})
    assert r.status_code == 201, r.json
    return r.json  # type: ignore[return-value]


def _phone(client: FlaskClient, address: str) -> dict[str, Any]:
    r = client.get(f"/sandbox/conversation/{address}")
    assert r.status_code == 200
    return r.json  # type: ignore[return-value]


@at_hours  # each moment is night in one of the two zones
@pytest.mark.parametrize("zone", ["America/Mexico_City", "Asia/Tokyo"])
def test_the_sandbox_asks_at_once_at_any_hour_in_the_browsers_time_zone(
    client: FlaskClient, rt: Runtime, clock: Clock, zone: str
) -> None:
    bought = _buy(client, timezone=zone)
    assert bought["state"] == "scheduled"
    assert datetime.fromisoformat(bought["due_at"]) == clock.now
    assert bought["timezone"] == zone
    tick(rt)
    phone = _phone(client, bought["address"])
    assert phone["invitation"]["state"] == "asked"
    assert [m["text"] for m in phone["messages"]] == [QUESTION_ES]
    r = client.post(
        "/webhooks/sandbox", json={"id": uuid.uuid4().hex, "from": bought["address"], "text": "9"}
    )
    assert [x["text"] for x in r.json["replies"]] == [  # type: ignore[index]
        "¡Qué gusto! ¿Qué es lo que más te gusta de nosotros?"
    ]
    with rt.db.session() as s:
        assert s.scalar(select(Contact.timezone).order_by(Contact.id.desc())) == zone


@pytest.mark.parametrize(
    ("hour", "minute", "zone", "arrives"),
    [
        (3, 0, "America/Mexico_City", "2026-11-22 09:00"),  # 21:00 there: the quiet hours hold
        (23, 30, "Europe/Madrid", "2026-11-23 09:00"),  # 00:30 there
        (15, 0, "America/Mexico_City", None),  # 09:00 there: at once
        (23, 30, "America/Mexico_City", None),  # 17:30 there: at once
    ],
)
def test_a_tester_who_asks_for_quiet_hours_is_told_when_the_survey_arrives(
    client: FlaskClient,
    rt: Runtime,
    clock: Clock,
    hour: int,
    minute: int,
    zone: str,
    arrives: str | None,
) -> None:
    _at(clock, hour, minute)
    bought = _buy(client, timezone=zone, quiet_hours=True)
    address = bought["address"]
    tick(rt)
    phone = _phone(client, address)
    if arrives is None:
        assert phone["invitation"]["state"] == "asked"
        return
    assert (bought["due_local"], bought["timezone"]) == (arrives, zone)
    assert phone["invitation"]["state"] == "scheduled"  # deferred, and the page says until when
    assert (phone["invitation"]["due_local"], phone["invitation"]["timezone"]) == (arrives, zone)
    assert phone["messages"] == []
    clock.now = datetime.fromisoformat(bought["due_at"])
    tick(rt)
    assert [m["text"] for m in _phone(client, address)["messages"]] == [QUESTION_ES]


@at_hours
def test_a_tester_can_ask_for_a_delay(client: FlaskClient, rt: Runtime, clock: Clock) -> None:
    bought = _buy(client, timezone="America/Mexico_City", delay_minutes=5)
    tick(rt)
    assert _phone(client, bought["address"])["invitation"]["state"] == "scheduled"
    clock.advance(minutes=5)
    tick(rt)
    assert _phone(client, bought["address"])["invitation"]["state"] == "asked"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": 7}, "timezone"),
        ({"delay_minutes": -1}, "delay_minutes"),
        ({"quiet_hours": "yes"}, "quiet_hours"),
        ({"language": "fr"}, "language"),
    ],
)
def test_a_bad_sandbox_purchase_names_the_field(
    client: FlaskClient, body: dict[str, object], field: str
) -> None:
    r = client.post("/sandbox/purchase", json={"name": "Ana", **body})
    assert r.status_code == 422
    assert r.json is not None and r.json["field"] == field


def test_the_page_opens_a_given_customers_phone(client: FlaskClient) -> None:
    address = _buy(client, timezone="UTC")["address"]
    assert f'let address = "{address}"' in client.get(f"/sandbox?address={address}").text
    assert "let address = null" in client.get("/sandbox?address=<script>").text

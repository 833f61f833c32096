"""The sandbox's pretend staff chat (`/sandbox/staff/…`): a detractor's card — the staff chat's
own card — appears beside the phone; Take, Resolve and an outcome act on the case, and a reply
reaches the phone. Only for sandbox customers, and only while the sandbox is enabled."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from bot.events import RecordingBus
from bot.runtime import Runtime
from bot.staff.cards import card
from bot.storage.models import Case, CaseEvent
from bot.web.app import create_app
from scheduler.loop import tick
from tests.conftest import Clock, make_settings
from tests.helpers import SandboxCustomer, audit_text, audit_trail
from tests.integration.insights.seed import Answer, seed


def _detractor(client: FlaskClient, rt: Runtime) -> SandboxCustomer:
    ana = SandboxCustomer(client, rt)
    ana.receive_survey()
    ana.says("3")
    ana.says("La entrega tardó dos días")
    return ana


def _staff(client: FlaskClient, address: str) -> dict[str, Any]:
    r = client.get(f"/sandbox/staff/{address}")
    assert r.status_code == 200, r.json
    assert isinstance(r.json, dict)
    return r.json


def _tap(client: FlaskClient, address: str, label: str) -> Any:
    shown = _staff(client, address)["case"]
    data = next(b["data"] for row in shown["buttons"] for b in row if b["label"] == label)
    return client.post(f"/sandbox/staff/cases/{shown['id']}/tap", json={"data": data})


def _labels(shown: dict[str, Any]) -> list[str]:
    return [b["label"] for row in shown["buttons"] for b in row]


@pytest.fixture(autouse=True)
def _afternoon(clock: Clock) -> None:
    clock.now = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)


def test_a_detractors_card_appears_as_the_staff_chat_shows_it(
    client: FlaskClient, rt: Runtime
) -> None:
    ana = _detractor(client, rt)
    shown = _staff(client, ana.address)["case"]
    assert shown["status"] == "open"
    with rt.db.session() as s:
        same = card(s, rt.settings, shown["id"], rt.clock())
    assert same is not None and shown["text"] == same.text
    assert "Detractor 3/10" in shown["text"] and "La entrega tardó dos días" in shown["text"]
    assert _labels(shown) == ["🙋 Take it", "✅ Resolved"]


def test_a_promoter_has_no_card(client: FlaskClient, rt: Runtime) -> None:
    leo = SandboxCustomer(client, rt, name="Leo")
    leo.receive_survey()
    leo.says("10")
    leo.says("Todo perfecto")
    assert _staff(client, leo.address) == {"case": None, "thread": []}


def test_take_then_resolve_with_an_outcome_as_the_sandbox_staff(
    client: FlaskClient, rt: Runtime, clock: Clock
) -> None:
    ana = _detractor(client, rt)
    r = _tap(client, ana.address, "🙋 Take it")
    assert r.status_code == 200 and r.json == {
        "status": "taken",
        "assignee": "Sandbox staff",
        "outcome": None,
    }
    shown = _staff(client, ana.address)["case"]
    assert "Taken by Sandbox staff" in shown["text"] and _labels(shown) == ["✅ Resolved"]

    clock.advance(hours=3)
    assert _tap(client, ana.address, "✅ Resolved").json["status"] == "resolved"  # type: ignore[index]
    shown = _staff(client, ana.address)["case"]
    assert "📞 Called back" in _labels(shown) and "↩️ Reopen" in _labels(shown)
    r = _tap(client, ana.address, "📞 Called back")
    assert r.status_code == 200 and r.json is not None and r.json["outcome"] == "called_back"
    shown = _staff(client, ana.address)["case"]
    assert "Resolved by Sandbox staff · 📞 Called back · 3 h after the response" in shown["text"]
    with rt.db.session() as s:
        events = s.execute(
            select(CaseEvent.kind, CaseEvent.actor_id).where(CaseEvent.case_id == shown["id"])
        ).all()
    assert [tuple(e) for e in events] == [
        ("taken", "sandbox:staff"),
        ("resolved", "sandbox:staff"),
        ("outcome", "sandbox:staff"),
    ]


def test_a_stale_or_foreign_button_changes_nothing(client: FlaskClient, rt: Runtime) -> None:
    ana = _detractor(client, rt)
    take = _staff(client, ana.address)["case"]["buttons"][0][0]["data"]
    assert _tap(client, ana.address, "🙋 Take it").status_code == 200
    case_id = _staff(client, ana.address)["case"]["id"]
    r = client.post(f"/sandbox/staff/cases/{case_id}/tap", json={"data": take})
    assert r.status_code == 409 and r.json is not None and "taken case" in r.json["reason"]
    forged = take[:-2] + ("AA" if not take.endswith("AA") else "BB")
    r = client.post(f"/sandbox/staff/cases/{case_id}/tap", json={"data": forged})
    assert r.status_code == 422 and r.json is not None and r.json["field"] == "data"


def test_a_reply_reaches_the_phone_and_the_answer_comes_back_into_the_thread(
    client: FlaskClient, rt: Runtime
) -> None:
    ana = _detractor(client, rt)
    case_id = _staff(client, ana.address)["case"]["id"]
    r = client.post(f"/sandbox/staff/cases/{case_id}/reply", json={"text": "¿Qué pasó?"})
    assert r.status_code == 202, r.json
    phone = client.get(f"/sandbox/conversation/{ana.address}").json
    assert phone is not None and "¿Qué pasó?" not in [m["text"] for m in phone["messages"]]
    tick(rt)  # the outbox sends it
    phone = client.get(f"/sandbox/conversation/{ana.address}").json
    assert phone is not None and phone["messages"][-1]["text"] == "¿Qué pasó?"
    assert ana.says("Llegó frío") == [], "once staff answered, the conversation is theirs"
    response = ana.response()
    assert response is not None and response.comment == "La entrega tardó dos días"
    chat = _staff(client, ana.address)
    said = [(m["from"], m["text"]) for m in chat["thread"]]
    assert said[-2:] == [("staff", "¿Qué pasó?"), ("customer", "Llegó frío")]
    assert chat["thread"][-2]["author"] == "Sandbox staff"
    assert chat["case"]["status"] == "taken"  # answering the customer is taking the case
    with rt.db.session() as s:
        kinds = s.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case_id)).all()
    assert kinds[-1] == "customer_reply"
    case, staff = f"case:{case_id}", ("sandbox:staff", "chat:sandbox")
    assert audit_trail(rt) == [
        (staff[0], "case.reply", case, staff[1]),
        (staff[0], "case.take", case, staff[1]),  # answering an open case takes it
    ]
    assert "¿Qué pasó?" not in audit_text(rt)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"text": "  "}, "text", id="blank"),
        pytest.param({"text": 3}, "text", id="not text"),
        pytest.param({"text": "x" * 4097}, "text", id="too long"),
        pytest.param({"text": "a\x00b"}, "text", id="NUL"),
    ],
)
def test_a_bad_reply_is_422_naming_the_field(
    client: FlaskClient, rt: Runtime, body: dict[str, Any], field: str
) -> None:
    ana = _detractor(client, rt)
    case_id = _staff(client, ana.address)["case"]["id"]
    r = client.post(f"/sandbox/staff/cases/{case_id}/reply", json=body)
    assert r.status_code == 422 and r.json is not None and r.json["field"] == field


def test_a_case_of_a_customer_on_another_channel_is_404(client: FlaskClient, rt: Runtime) -> None:
    seed(rt, [Answer(2, rt.clock(), channel="whatsapp", comment="Mal", case="open")])
    with rt.db.session() as s:
        case_id = s.scalar(select(Case.id))
    assert case_id is not None
    data = {"data": "c:1:t:whatever"}
    for path, body in (("tap", data), ("reply", {"text": "Hola"})):
        r = client.post(f"/sandbox/staff/cases/{case_id}/{path}", json=body)
        assert r.status_code == 404 and r.json is not None and r.json["reason"]
    with rt.db.session() as s:
        assert s.get(Case, case_id).status == "open"  # type: ignore[union-attr]
    assert client.get("/sandbox/staff/sandbox-nobody").status_code == 404


def test_with_the_sandbox_disabled_there_is_no_staff_chat(
    database_url: str, bus: RecordingBus
) -> None:
    app = create_app(make_settings(database_url, SANDBOX_ENABLED="false"), bus=bus)
    try:
        client = app.test_client()
        assert client.get("/sandbox/staff/sandbox-1").status_code == 404
        assert client.post("/sandbox/staff/cases/1/tap", json={}).status_code == 404
    finally:
        app.extensions["npsbot"].close()


def test_a_reply_to_a_resolved_case_is_refused_with_the_reason(
    client: FlaskClient, rt: Runtime
) -> None:
    ana = _detractor(client, rt)
    _tap(client, ana.address, "✅ Resolved")
    case_id = _staff(client, ana.address)["case"]["id"]
    r = client.post(f"/sandbox/staff/cases/{case_id}/reply", json={"text": "¿Seguimos?"})
    assert r.status_code == 409 and r.json is not None and "Reopen" in r.json["reason"]
    assert "¿Seguimos?" not in [m["text"] for m in _staff(client, ana.address)["thread"]]

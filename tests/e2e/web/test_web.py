"""The web app's contract: JSON errors with a reason, never a stack trace or a half write."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select, text

from bot.runtime import Runtime
from bot.storage.models import Message
from tests.helpers import SandboxCustomer


def test_healthz_reports_the_database_and_channels(client: FlaskClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json == {"status": "ok", "database": True, "channels": ["sandbox", "web"]}


@pytest.mark.parametrize(
    ("method", "path", "status", "error"),
    [
        pytest.param("get", "/nope", 404, "not_found", id="unknown-path"),
        pytest.param("get", "/webhooks/sandbox", 405, "method_not_allowed", id="wrong-method"),
        pytest.param("post", "/webhooks/nochannel", 404, "not_found", id="unconfigured-channel"),
    ],
)
def test_http_errors_are_json_with_a_reason(
    client: FlaskClient, method: str, path: str, status: int, error: str
) -> None:
    r = getattr(client, method)(path)
    assert r.status_code == status
    assert r.json is not None and r.json["error"] == error and r.json["reason"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(b"not json", "JSON", id="not-json"),
        pytest.param(b"[1, 2]", "JSON object", id="not-an-object"),
        pytest.param(b'{"from": "+1555", "text": "9"}', "sandbox address", id="bad-sender"),
        pytest.param(b'{"from": "sandbox-1", "text": 9}', "`text`", id="text-not-string"),
    ],
)
def test_a_bad_webhook_body_is_400_and_stores_nothing(
    client: FlaskClient, rt: Runtime, body: bytes, reason: str
) -> None:
    r = client.post("/webhooks/sandbox", data=body, content_type="application/json")
    assert r.status_code == 400
    assert r.json is not None and reason in r.json["reason"]
    with rt.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"language": "fr"}, "language", id="language"),
        pytest.param({"survey": "nope"}, "survey", id="survey"),
        pytest.param({"name": "Ana\x00"}, "name", id="NUL in the name"),
        pytest.param({"survey": "s\x00"}, "survey", id="NUL in the survey"),
        pytest.param({"item": "\ud800"}, "item", id="lone surrogate in the item"),
    ],
)
def test_a_bad_sandbox_purchase_is_422_naming_the_field(
    client: FlaskClient, body: dict[str, str], field: str
) -> None:
    r = client.post("/sandbox/purchase", json=body)
    assert r.status_code == 422
    assert r.json is not None and r.json["field"] == field


def test_a_conversation_address_with_a_nul_is_404(client: FlaskClient) -> None:
    r = client.get("/sandbox/conversation/sandbox-1%00")
    assert r.status_code == 404 and r.json is not None and r.json["error"] == "not_found"


def test_a_storage_failure_answers_503_so_the_provider_retries(
    client: FlaskClient, rt: Runtime
) -> None:
    ana = SandboxCustomer(client, rt)
    ana.receive_survey()
    # The table the answer needs is gone (moved away, and back after: the database is shared).
    with rt.db.engine.begin() as conn:
        conn.execute(text("ALTER TABLE responses RENAME TO responses_away"))
    try:
        r = client.post("/webhooks/sandbox", json={"id": "m1", "from": ana.address, "text": "9"})
    finally:
        with rt.db.engine.begin() as conn:
            conn.execute(text("ALTER TABLE responses_away RENAME TO responses"))
    assert r.status_code == 503
    assert r.json == {"error": "storage_unavailable", "reason": "storage failure, retry later"}
    # Nothing half-written: the inbound message rolled back with the rest, so the retry is new.
    with rt.db.session() as s:
        assert (
            s.scalar(select(func.count()).select_from(Message).where(Message.provider_id == "m1"))
            == 0
        )
    assert ana.invitation().state == "asked"

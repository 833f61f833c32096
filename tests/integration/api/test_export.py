"""Access and portability: GET /api/v1/contacts/{id}/export and `npsbot contacts export ID` give
everything npsbot holds about one person, in one documented format, and each export is audited."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from bot.cli import main
from bot.runtime import Runtime
from bot.storage.models import AuditEvent
from tests.conftest import Clock
from tests.integration.api.conftest import Api
from tests.integration.privacy.history import ASKED, COMMENT, QUEUED, SORRY, customer

AT = "2026-11-22T15:00:00Z"  # the clock's start: when the history happened


def export(api: Api, contact_id: str) -> tuple[int, dict[str, Any]]:
    return api.get(f"/api/v1/contacts/{contact_id}/export")


def test_the_export_holds_the_persons_whole_history_and_nobody_elses(
    api: Api, rt: Runtime, clock: Clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ana = customer(rt, "Ana", "+525512345678", 2, "resolved", clock.now)
    customer(rt, "Bruno", "+525587654321", 4, "taken", clock.now)
    status, doc = export(api, "C-Ana")
    assert status == 200
    assert doc["format"] == "npsbot.contact-export/1" and doc["exported_at"] == AT
    assert doc["contact"] == {
        "id": "C-Ana",
        "name": "Ana",
        "phone": "+525512345678",
        "telegram_chat_id": None,
        "language": "es",
        "timezone": None,
        "attributes": {"segment": "gold"},
        "created_at": AT,
        "updated_at": AT,
    }
    assert [(c["channel"], c["address"], c["opted_out_at"]) for c in doc["channels"]] == [
        ("sms", "+525512345678", AT)
    ]
    assert [(c["given"], c["method"], c["source"], c["at"]) for c in doc["consents"]] == [
        (True, "api", "checkout form", AT),
        (False, "keyword", "BAJA", AT),
    ]
    (inv,) = doc["invitations"]
    assert (inv["survey"], inv["state"], inv["channel"], inv["sent_at"]) == (
        "post-purchase",
        "completed",
        "sms",
        AT,
    )
    (response,) = doc["responses"]
    assert (response["score"], response["comment"]) == (2, COMMENT)
    assert response["themes"] == ["delivery"]
    assert [(m["direction"], m["text"], m["status"]) for m in doc["messages"]] == [
        ("out", ASKED, "delivered"),
        ("in", f"2, {COMMENT}", "received"),
        ("out", QUEUED, "queued"),
    ]
    (case,) = doc["cases"]
    assert case["status"] == "resolved" and case["resolved_at"] == AT
    # Staff are named as the customer saw them: STAFF_SHOW_NAMES is off, so not at all.
    assert case["events"] == [
        {"kind": "staff_reply", "at": AT, "staff": None, "text": SORRY, "note": None}
    ]
    text = json.dumps(doc, ensure_ascii=False)
    assert "Bruno" not in text and "+525587654321" not in text and "Luis" not in text

    # Each export is audited, and the next export shows it.
    with rt.db.session() as s:
        rows = list(s.scalars(select(AuditEvent)))
    assert [(r.actor, r.action, r.target) for r in rows] == [
        ("api:shop", "contact.export", f"contact:{ana}")
    ]
    again = export(api, "C-Ana")[1]
    assert again["audit"] == [{"at": AT, "actor": "api", "action": "contact.export", "detail": {}}]

    # The command line gives the same document (one builder), and is audited as "cli".
    monkeypatch.setenv("DATABASE_URL", rt.settings.database_url)
    monkeypatch.setenv("SECRET_KEY", "x" * 32)
    out = tmp_path / "ana.json"
    result = CliRunner().invoke(main, ["contacts", "export", "C-Ana", "--output", str(out)])
    assert result.exit_code == 0, result.output
    by_cli = json.loads(out.read_text(encoding="utf-8"))
    assert {k: v for k, v in by_cli.items() if k not in ("exported_at", "audit")} == {
        k: v for k, v in again.items() if k not in ("exported_at", "audit")
    }
    assert [a["actor"] for a in by_cli["audit"]] == ["api", "api"]
    with rt.db.session() as s:
        assert s.scalar(select(AuditEvent.actor).order_by(AuditEvent.id.desc()).limit(1)) == "cli"


def test_an_unknown_contact_is_a_404_and_nothing_is_audited(api: Api, rt: Runtime) -> None:
    status, body = export(api, "C-nobody")
    assert status == 404 and body["error"] == "not_found"
    with rt.db.session() as s:
        assert s.scalar(select(AuditEvent.id)) is None

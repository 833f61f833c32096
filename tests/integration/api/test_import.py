"""`npsbot import purchases.csv`: good lines in, bad lines named by number, re-runs idempotent."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from bot.cli import main
from bot.runtime import Runtime
from bot.storage.models import Invitation

HEADER = (
    "order_id,customer_id,name,phone,language,timezone,survey,occurred_at,channels,metadata.store"
)
CSV = f"""{HEADER}
A-1,C-1,Ana,+525512345678,es,America/Mexico_City,,2026-11-22T15:00:00Z,whatsapp;sms,Polanco
A-2,C-2,Bea,12,es,,,2026-11-22T15:00:00Z,,Roma
A-3,C-3,Caio,+5511987654321,pt,,,2026-11-22T15:00:00Z,sms,Centro
A-4,C-4,Dan,+14155550123,xx,,,2026-11-22T15:00:00Z,,Centro
"""


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "purchases.csv"
    path.write_text(CSV, encoding="utf-8")
    return path


def run(rt: Runtime, *args: str) -> tuple[int, str]:
    env = {
        "DATABASE_URL": rt.settings.database_url,
        "SURVEYS_FILE": rt.settings.surveys_file or "",
        "TWILIO_ACCOUNT_SID": rt.settings.twilio_account_sid or "",
        "TWILIO_AUTH_TOKEN": rt.settings.twilio_auth_token or "",
        "TWILIO_SMS_FROM": rt.settings.twilio_sms_from or "",
        "TWILIO_WHATSAPP_FROM": rt.settings.twilio_whatsapp_from or "",
        "TWILIO_API_URL": "http://127.0.0.1:9",
    }
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.output


def test_import_reports_bad_lines_by_number_and_imports_the_rest(
    rt: Runtime, csv_file: Path
) -> None:
    code, out = run(rt, "import", str(csv_file))
    assert code == 1
    assert f"{csv_file}: line 3: customer.phone: not a " in out
    assert f"{csv_file}: line 5: customer.language: must be one of es, en, pt" in out
    assert "2 scheduled, 0 skipped by the rules, 0 already imported, 2 with errors" in out
    with rt.db.session() as s:
        inv = s.scalar(select(Invitation).where(Invitation.order_id == "A-1"))
        assert inv is not None
        assert inv.channels == ["whatsapp", "sms"] and inv.meta == {"store": "Polanco"}


def test_running_the_same_file_again_creates_nothing_twice(rt: Runtime, csv_file: Path) -> None:
    run(rt, "import", str(csv_file))
    _code, out = run(rt, "import", str(csv_file))
    assert "0 scheduled, 0 skipped by the rules, 2 already imported, 2 with errors" in out
    with rt.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Invitation)) == 2


def test_a_file_with_unknown_columns_is_refused_naming_them(rt: Runtime, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("order_id,telefono\nA-1,+525512345678\n", encoding="utf-8")
    code, out = run(rt, "import", str(bad))
    assert code == 1 and "line 1: unknown column(s) telefono" in out
    assert "Traceback" not in out

"""`npsbot import purchases.csv`: files as spreadsheets write them; good lines in, bad lines
named by number, unknown columns left out with a warning, re-runs idempotent."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from bot.cli import main
from bot.inbound.receive import handle_inbound
from bot.runtime import Runtime
from bot.storage.models import Contact, Invitation
from channels.base import Inbound

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


def excel_file(tmp_path: Path, lines: list[str], *, encoding: str, sep: str = ",") -> Path:
    """A file as Excel saves "CSV": CRLF line ends, the given encoding and separator."""
    path = tmp_path / "excel.csv"
    path.write_bytes("\r\n".join(sep.join(cells.split("|")) for cells in lines).encode(encoding))
    return path


def occurred(rt: Runtime, order_id: str) -> datetime:
    with rt.db.session() as s:
        inv = s.scalar(select(Invitation).where(Invitation.order_id == order_id))
        assert inv is not None, order_id
        moment = inv.occurred_at
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def names(rt: Runtime) -> dict[str, str | None]:
    with rt.db.session() as s:
        return {c.name or "": c.phone for c in s.scalars(select(Contact))}


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


def test_a_windows_1252_semicolon_file_from_excel_is_read_day_first(
    rt: Runtime, tmp_path: Path
) -> None:
    path = excel_file(
        tmp_path,
        [
            "order_id|name|phone|language|occurred_at",
            "E-1|José Peña|+525512345678|es|01/12/2026",
            "E-2|Fátima Araújo|+5511987654321|pt|25/11/2026 14:30",
            "",
        ],
        encoding="cp1252",
        sep=";",
    )
    code, out = run(rt, "import", str(path))
    assert code == 0, out
    assert f"{path}: read as cp1252, ';'-separated" in out
    assert "dates read day-first (DD/MM/YYYY): the file is ';'-separated" in out
    assert f"{path}: 1 ambiguous date(s) read day-first: line 2 (01/12/2026)" in out
    assert "2 scheduled, 0 skipped by the rules, 0 already imported, 0 with errors" in out
    assert names(rt) == {"José Peña": "+525512345678", "Fátima Araújo": "+5511987654321"}
    assert occurred(rt, "E-1") == datetime(2026, 12, 1)
    assert occurred(rt, "E-2") == datetime(2026, 11, 25, 14, 30)


def test_a_utf8_file_with_a_bom_and_an_extra_column_imports_with_a_warning(
    rt: Runtime, tmp_path: Path
) -> None:
    path = excel_file(
        tmp_path,
        ["order_id|phone|Notas internas|occurred_at", "B-1|+525512345678|VIP|2026-11-22 09:15"],
        encoding="utf-8-sig",
    )
    code, out = run(rt, "import", str(path))
    assert code == 0, out
    assert f"{path}: read as UTF-8, ','-separated" in out
    assert f"{path}: line 1: ignored unknown column(s) Notas internas" in out
    assert "1 scheduled" in out and "Traceback" not in out
    assert occurred(rt, "B-1") == datetime(2026, 11, 22, 9, 15)  # no offset: UTC


def test_english_customers_dates_are_read_month_first_or_as_asked(
    rt: Runtime, tmp_path: Path
) -> None:
    lines = [
        "order_id|phone|language|timezone|occurred_at",
        "M-1|+14155550123|en|America/New_York|12/01/2026 18:00",
        "M-2|+14155550124|en||11/25/2026",
    ]
    path = excel_file(tmp_path, lines, encoding="utf-8")
    code, out = run(rt, "import", str(path))
    assert code == 0, out
    assert "dates read month-first (MM/DD/YYYY): neither a ';' separator nor es/pt" in out
    assert "1 ambiguous date(s) read month-first: line 2 (12/01/2026 18:00)" in out
    assert occurred(rt, "M-1") == datetime(2026, 12, 1, 23, 0)  # 18:00 in New York
    assert occurred(rt, "M-2") == datetime(2026, 11, 25)

    lines[1:] = ["D-1|+14155550125|en||03/04/2026"]
    asked = excel_file(tmp_path, lines, encoding="utf-8")
    code, out = run(rt, "import", "--day-first", str(asked))
    assert code == 0 and "dates read day-first (DD/MM/YYYY): as asked" in out
    assert occurred(rt, "D-1") == datetime(2026, 4, 3)


def test_a_date_that_does_not_fit_the_order_is_a_line_error_naming_the_way_out(
    rt: Runtime, tmp_path: Path
) -> None:
    path = excel_file(
        tmp_path,
        [
            "order_id|phone|language|occurred_at",
            "X-1|+525512345678|es|11/25/2026",
            "X-2|+525512345679|es|ayer",
            "X-3|+525512345670|es|30/11/2026",
        ],
        encoding="utf-8",
    )
    code, out = run(rt, "import", str(path))
    assert code == 1
    assert f"{path}: line 2: occurred_at: '11/25/2026' is not a date read as DD/MM/YYYY " in out
    assert "(try --month-first)" in out
    assert f"{path}: line 3: occurred_at: 'ayer' is not a date (write 2026-12-01" in out
    assert "1 scheduled, 0 skipped by the rules, 0 already imported, 2 with errors" in out


def test_old_mexican_mobile_numbers_are_stored_as_whatsapp_sends_them(
    rt: Runtime, tmp_path: Path
) -> None:
    path = excel_file(
        tmp_path,
        ["order_id|name|phone", "P-1|Ana|+5215512345678", "P-2|Bea|+52 1 33 1234 5678"],
        encoding="utf-8",
    )
    code, out = run(rt, "import", str(path))
    assert code == 0, out
    assert names(rt) == {"Ana": "+525512345678", "Bea": "+523312345678"}


def test_sandbox_customers_come_in_with_their_address_or_get_one(
    rt: Runtime, tmp_path: Path
) -> None:
    # No credentials needed: the sandbox is a channel like the others for the import too.
    path = excel_file(
        tmp_path,
        ["order_id|name|sandbox|channels", "S-1|Ana|sandbox-ana|sandbox", "S-2|Bea||sandbox"],
        encoding="utf-8",
    )
    code, out = run(rt, "import", str(path))
    assert code == 0, out
    assert "2 scheduled" in out
    with rt.db.session() as s:
        invs = {i.order_id: i for i in s.scalars(select(Invitation))}
        assert set(invs) == {"S-1", "S-2"}
        assert all(i.channels == ["sandbox"] for i in invs.values())
        boxes = [cc.address for c in s.scalars(select(Contact)) for cc in c.channels]
    assert "sandbox-ana" in boxes and len(boxes) == 2


def test_a_file_without_an_order_id_column_names_line_1_and_how_it_was_split(
    rt: Runtime, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("pedido,telefono\nA-1,+525512345678\n", encoding="utf-8")
    code, out = run(rt, "import", str(bad))
    assert code == 1
    assert f"{bad}: line 1: missing column order_id (header read as ','-separated: " in out
    assert "'pedido', 'telefono')" in out and "Traceback" not in out
    with rt.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Invitation)) == 0


def test_a_reply_from_the_old_form_of_a_number_finds_the_imported_customer(
    rt: Runtime, tmp_path: Path
) -> None:
    path = excel_file(tmp_path, ["order_id|name|phone", "P-1|Ana|+525512345678"], encoding="utf-8")
    assert run(rt, "import", str(path))[0] == 0
    handle_inbound(rt, Inbound(channel="sms", provider_id="SM-old-1", sender="+5215512345678"))
    with rt.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Contact)) == 1


def test_the_cli_output_is_what_the_readme_shows(
    rt: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    lines = [
        "order_id|name|phone|Notas|occurred_at",
        "V-1|José|+5215512345678|VIP|01/12/2026",
        "V-2|Fátima|+525512345679||25/11/2026 14:30",
        "V-3|Ana|12||25/11/2026",
        "",
    ]
    excel_file(tmp_path, lines, encoding="cp1252", sep=";").rename("ventas.csv")
    code, out = run(rt, "import", "ventas.csv")
    readme = (Path(__file__).parents[3] / "README.md").read_text(encoding="utf-8")
    shown = readme.split("$ npsbot import ventas.csv\n", 1)[1].split("```", 1)[0]
    assert code == 1
    # The progress bar is drawn only on a terminal: here it is its label alone.
    assert out.splitlines() == [
        "importing" if line.startswith("importing ") else line for line in shown.splitlines()
    ]

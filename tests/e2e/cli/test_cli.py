"""`npsbot report`, `npsbot export` and `npsbot user` from the terminal."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy import func, select

from bot.cli import main
from bot.runtime import Runtime
from bot.storage.models import NpsDay, StaffUser
from scoring import nps
from tests.integration.insights.seed import Answer, seed

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)
SCORES = [10, 9, 9, 8, 6, 3, 10, 7]


@pytest.fixture
def cli(rt: Runtime, database_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    seed(
        rt,
        [
            Answer(
                s,
                T0 + timedelta(days=i),
                channel="sms" if i % 2 else "whatsapp",
                comment=f"comentario {i}",
                themes=["price"] if s < 7 else ["staff"],
                store="centro" if i < 4 else "norte",
                case="open" if s < 7 else None,
            )
            for i, s in enumerate(SCORES)
        ],
    )
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SECRET_KEY", "x" * 32)
    return CliRunner()


def test_report_prints_nps_with_margin_sparkline_distribution_and_themes(cli: CliRunner) -> None:
    result = cli.invoke(main, ["report", "--interval", "day"])
    assert result.exit_code == 0, result.output
    expected = nps(SCORES)
    assert f"NPS {expected.score:+.1f} ± {expected.margin_of_error:.1f} (95 %)" in result.output
    assert "Trend by day: " in result.output and "▁" in result.output
    assert "Top themes among detractors:" in result.output and "price: 2" in result.output
    assert "By channel:" in result.output


def test_report_takes_the_api_filters(cli: CliRunner) -> None:
    result = cli.invoke(main, ["report", "--channel", "sms", "--meta", "store=norte"])
    assert result.exit_code == 0, result.output
    sms_norte = [s for i, s in enumerate(SCORES) if i % 2 and i >= 4]
    assert f"{len(sms_norte)} answers" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["report", "--from", "soon"], "--from", id="bad date names the option"),
        pytest.param(["report", "--meta", "store"], "KEY=VALUE", id="bad metadata"),
        pytest.param(["export", "out.txt"], "must end in .csv or .xlsx", id="bad export file"),
    ],
)
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no storage semantics
def test_cli_errors_name_the_problem(
    cli: CliRunner, tmp_path: Path, args: list[str], message: str
) -> None:
    args = [str(tmp_path / a) if a == "out.txt" else a for a in args]
    result = cli.invoke(main, args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_export_csv_has_every_response_with_metadata_and_case(
    cli: CliRunner, tmp_path: Path
) -> None:
    out = tmp_path / "responses.csv"
    result = cli.invoke(main, ["export", str(out)])
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(SCORES)
    assert sorted(int(r["score"]) for r in rows) == sorted(SCORES)
    det = [r for r in rows if r["category"] == "detractor"]
    assert all(r["case_status"] == "open" for r in det)
    assert '"store": "centro"' in rows[-1]["metadata"]


def test_export_xlsx_with_filters(cli: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "responses.xlsx"
    result = cli.invoke(main, ["export", str(out), "--category", "promoter"])
    assert result.exit_code == 0, result.output
    wb = load_workbook(out, read_only=True)
    rows = list(wb["responses"].iter_rows(values_only=True))
    wb.close()
    assert rows[0][:3] == ("id", "scored_at", "survey")
    assert len(rows) - 1 == sum(1 for s in SCORES if s >= 9)
    assert isinstance(rows[1][1], datetime)


HOSTILE = [
    '=HYPERLINK("http://evil","click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\tpadded",
    "\r=1+1",
]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the files, not the storage
def test_exports_keep_a_customers_formula_as_text(
    cli: CliRunner, rt: Runtime, tmp_path: Path
) -> None:
    seed(
        rt, [Answer(9, T0 + timedelta(days=20, hours=i), comment=c) for i, c in enumerate(HOSTILE)]
    )
    xlsx, csv_path = tmp_path / "out.xlsx", tmp_path / "out.csv"
    for out in (xlsx, csv_path):
        result = cli.invoke(main, ["export", str(out), "--from", "2026-11-22"])
        assert result.exit_code == 0, result.output
    # openpyxl reads a formula cell as data_type "f": every comment must be a plain string.
    wb = load_workbook(xlsx)
    sheet = wb["responses"]
    col = 1 + [c.value for c in sheet[1]].index("comment")
    cells = [sheet.cell(row=r, column=col) for r in range(2, sheet.max_row + 1)]
    wb.close()
    # XML reads a CR back as LF.
    assert sorted(c.value for c in cells) == sorted("'" + h.replace("\r", "\n") for h in HOSTILE)
    assert {c.data_type for c in cells} == {"s"}
    with csv_path.open(encoding="utf-8", newline="") as fh:
        comments = sorted(r["comment"] for r in csv.DictReader(fh))
    assert comments == sorted("'" + h for h in HOSTILE)


def test_user_create_stores_a_hash_and_refuses_a_short_password(
    cli: CliRunner, rt: Runtime
) -> None:
    ok = cli.invoke(main, ["user", "create", "ana", "--password", "correct horse battery"])
    assert ok.exit_code == 0 and "(owner)" in ok.output  # the first account owns the place
    ag = cli.invoke(main, ["user", "create", "rita", "--password", "0123456789ab"])
    assert ag.exit_code == 0 and "(agent)" in ag.output
    ro = cli.invoke(
        main, ["user", "create", "luis", "--role", "viewer", "--password", "0123456789ab"]
    )
    assert ro.exit_code == 0 and "(viewer)" in ro.output
    short = cli.invoke(main, ["user", "create", "eva", "--password", "short"])
    assert short.exit_code != 0 and "at least 10 characters" in short.output
    dup = cli.invoke(main, ["user", "create", "ana", "--password", "another password"])
    assert dup.exit_code != 0 and "exists already" in dup.output
    with rt.db.session() as s:
        users = {u.username: u for u in s.scalars(select(StaffUser))}
    assert users["ana"].password_hash.startswith("scrypt$")
    assert "correct horse" not in users["ana"].password_hash
    assert users["luis"].role == "viewer"
    listing = cli.invoke(main, ["user", "list"])
    assert "ana\towner" in listing.output


def test_user_role_changes_a_role_but_never_leaves_the_team_without_an_owner(
    cli: CliRunner, rt: Runtime
) -> None:
    for name in ("ana", "rita"):
        cli.invoke(main, ["user", "create", name, "--password", "0123456789ab"])
    alone = cli.invoke(main, ["user", "role", "ana", "agent"])
    assert alone.exit_code != 0 and "only owner" in alone.output
    assert cli.invoke(main, ["user", "role", "rita", "owner"]).exit_code == 0
    assert cli.invoke(main, ["user", "role", "ana", "viewer"]).output == "ana is now viewer\n"
    bad = cli.invoke(main, ["user", "role", "ana", "boss"])
    assert bad.exit_code == 2 and "'boss' is not one of" in bad.output


def test_insights_refresh_fills_the_rollup_and_the_report_reads_the_same(
    cli: CliRunner, rt: Runtime
) -> None:
    before = cli.invoke(main, ["report", "--interval", "day", "--meta", "store=centro"])
    result = cli.invoke(main, ["insights", "refresh"])
    assert result.exit_code == 0, result.output
    assert "rollup up to" in result.output
    with rt.db.session() as s:
        assert s.scalar(select(func.sum(NpsDay.responses))) == len(SCORES)
    after = cli.invoke(main, ["report", "--interval", "day", "--meta", "store=centro"])
    assert after.output == before.output
    full = cli.invoke(main, ["insights", "refresh", "--full"])
    assert full.exit_code == 0, full.output
    with rt.db.session() as s:
        assert s.scalar(select(func.sum(NpsDay.responses))) == len(SCORES)

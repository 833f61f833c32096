"""`npsbot import-delighted`: a Delighted export's history becomes completed responses at their
own dates — linked to the contact an e-mail or phone names, or anonymous — once, and the rollup
rebuilds those past days, so the trend continues across the move."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from bot.cli.delighted import import_delighted
from bot.insights.rollup import refresh_rollup
from bot.integrations.delighted.importer import ID, import_export
from bot.runtime import Runtime
from bot.storage.models import Contact, NpsDay, Response
from bot.survey.importer import read_table

EXPORT = Path(__file__).parents[2] / "payloads" / "delighted" / "responses.csv"
TODAY = date(2026, 11, 22)  # the `clock` fixture's day


def test_an_export_is_imported_once_with_its_dates_and_the_rollup_gets_the_past_days(
    rt: Runtime,
) -> None:
    with rt.db.session_for_update() as s:
        refresh_rollup(s, TODAY)  # the rollup already ran before the move
    table = read_table(EXPORT, None, required=ID, known=lambda _n: True)

    report = import_export(rt, table)
    assert (report.created, report.unchanged) == (4, 0)
    assert report.errors == [
        (5, "Score: must be a whole number from 0 to 10, not '11'"),
        (6, "Survey Type: 'csat' is not an NPS response (0-10)"),
    ]
    with rt.db.session() as s:
        rows = s.execute(
            select(Response.score, Response.comment, Response.scored_at, Contact.email)
            .outerjoin(Contact, Contact.id == Response.contact_id)
            .order_by(Response.scored_at)
        ).all()
        assert [(r.score, r.scored_at.date().isoformat(), r.email) for r in rows] == [
            (10, "2026-11-15", "ana@example.com"),
            (3, "2026-11-16", None),  # Luis: his phone
            (8, "2026-11-17", None),  # anonymous: no contact at all
            (9, "2026-11-18", "jo@example.com"),
        ]
        luis = s.scalar(select(Contact).where(Contact.name == "Luis"))
        assert luis is not None and luis.phone == "+525512345678"
        assert s.scalar(select(func.count()).select_from(Contact)) == 3  # Ana, Luis, Jo

    again = import_export(rt, table)
    assert (again.created, again.unchanged) == (0, 4)

    with rt.db.session_for_update() as s:
        refresh_rollup(s, TODAY)
        days = s.execute(
            select(NpsDay.day, func.sum(NpsDay.responses)).group_by(NpsDay.day).order_by(NpsDay.day)
        ).all()
    assert [(d.isoformat(), int(n)) for d, n in days] == [
        ("2026-11-15", 1),
        ("2026-11-16", 1),
        ("2026-11-17", 1),
        ("2026-11-18", 1),
    ]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the command's own output
def test_the_command_reports_bad_lines_by_number_and_a_summary(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", rt.settings.database_url)
    result = CliRunner().invoke(import_delighted, [str(EXPORT), "--survey", "history"])
    assert result.exit_code == 1  # a line was refused
    assert "responses.csv: line 5: Score: must be a whole number" in result.output
    assert result.output.strip().endswith("4 imported, 0 already imported, 2 with errors")

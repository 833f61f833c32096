"""`npsbot programs preview SURVEY`: who a relational survey would ask each of the next days,
and why the others are not (counts per reason; names with --verbose)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.runtime import Runtime
from bot.storage.models import Contact
from bot.survey.surveys import save_survey
from tests.e2e.channels.rows_sms import settings as twilio_settings
from tests.integration.insights.seed import Answer, seed


@pytest.fixture
def cli(rt: Runtime, database_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SECRET_KEY", "x" * 32)
    for k, v in twilio_settings("http://127.0.0.1:9").items():
        monkeypatch.setenv(k, v)
    return CliRunner()


def test_the_preview_counts_each_day_s_contacts_and_names_them_when_asked(
    cli: CliRunner, rt: Runtime, tmp_path: Path
) -> None:
    with rt.db.session_for_update() as s:
        audience = {"attributes": {"segment": "gold"}}
        values = {
            "name": "Quarterly",
            "channels": ["sms"],
            "kind": "relational",
            "audience": audience,
        }
        save_survey(
            s, "base", values | {"cadence_days": 3, "daily_cap": 1}, "test", rt.clock(), new=True
        )
        for i, segment in enumerate(["gold", "gold", "gold", "bronze"]):
            phone = f"+52551000000{i}" if i != 2 else None  # Eva has no phone
            s.add(
                Contact(
                    external_id=f"C-{i}",
                    name=["Ana", "Bruno", "Eva", "Luz"][i],
                    phone=phone,
                    language="es",
                    attributes={"segment": segment},
                )
            )
    result = cli.invoke(main, ["programs", "preview", "base", "--days", "2"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 2
    # Three gold contacts, a third of them a day (whatever the day); Eva has no phone for SMS.
    assert lines[0].endswith(": 1 asked; not asked: 1 later_day, 1 no_address, 1 not_in_audience")
    assert lines[1].endswith(
        ": 1 asked; not asked: 1 no_address, 1 surveyed_recently, 1 not_in_audience"
    )
    verbose = cli.invoke(main, ["programs", "preview", "base", "--days", "1", "--verbose"])
    assert "  asked: Ana" in verbose.output
    assert "  no_address: Eva" in verbose.output


def test_an_unknown_or_transactional_survey_is_one_line_and_a_failure(cli: CliRunner) -> None:
    for key in ("nope", "post-purchase"):
        result = cli.invoke(main, ["programs", "preview", key])
        assert result.exit_code == 1
        assert result.output.strip() == f"Error: no relational survey '{key}'"


def test_the_report_takes_the_kind(cli: CliRunner, rt: Runtime) -> None:
    with rt.db.session_for_update() as s:
        values = {"name": "Quarterly", "channels": ["sms"], "kind": "relational"}
        save_survey(s, "base", values, "test", rt.clock(), new=True)
    day = rt.clock() - timedelta(days=2)
    seed(rt, [Answer(9, day), Answer(3, day), Answer(10, day, survey="base")])
    transactional = cli.invoke(main, ["report", "--kind", "transactional"])
    assert transactional.exit_code == 0, transactional.output
    assert "2 answers" in transactional.output
    relational = cli.invoke(main, ["report", "--kind", "relational"])
    assert "1 answers" in relational.output
    bad = cli.invoke(main, ["report", "--kind", "blast"])
    assert bad.exit_code != 0 and "--kind" in bad.output and "Traceback" not in bad.output

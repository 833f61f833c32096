"""Survey definitions change only through `npsbot surveys sync FILE`, never at start-up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main

CUSTOM = """
[[survey]]
key = "post-purchase"
name = "After a purchase"
quiet_hours = ["22:00", "08:00"]
[survey.texts.es]
question = "¿Nos recomiendas? Del 0 al 10."
"""
OTHER = """
[[survey]]
key = "post-purchase"
name = "Something else"
"""


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("SURVEYS_FILE", raising=False)
    return CliRunner()


def shown(cli: CliRunner) -> dict[str, dict[str, object]]:
    result = cli.invoke(main, ["surveys", "show"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    return {row["key"]: row for row in rows}


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_first_command_on_an_empty_database_creates_the_default_survey(cli: CliRunner) -> None:
    survey = shown(cli)["post-purchase"]
    assert survey["name"] == "After a purchase" and survey["options"] == {}


def test_sync_shows_the_difference_asks_and_writes_only_when_told(
    cli: CliRunner, tmp_path: Path
) -> None:
    path = write(tmp_path, "surveys.toml", CUSTOM)
    refused = cli.invoke(main, ["surveys", "sync", path], input="n\n")
    assert "changed   post-purchase: texts, options" in refused.output
    assert refused.exit_code == 1 and "nothing written" in refused.output
    assert shown(cli)["post-purchase"]["options"] == {}

    applied = cli.invoke(main, ["surveys", "sync", path], input="y\n")
    assert applied.exit_code == 0, applied.output
    assert shown(cli)["post-purchase"]["options"] == {"quiet_hours": ["22:00", "08:00"]}

    again = cli.invoke(main, ["surveys", "sync", path, "--yes"])
    assert "unchanged post-purchase" in again.output and "nothing to sync" in again.output


def test_sync_names_a_new_survey_as_added(cli: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path, "s.toml", '[[survey]]\nkey = "after-delivery"\nname = "Delivered"\n')
    result = cli.invoke(main, ["surveys", "sync", path, "--yes"])
    assert result.exit_code == 0, result.output
    assert "added     after-delivery" in result.output
    assert set(shown(cli)) == {"post-purchase", "after-delivery"}


@pytest.mark.parametrize("surveys_file", [None, "other"], ids=["no SURVEYS_FILE", "another one"])
def test_other_commands_never_rewrite_the_definitions(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, surveys_file: str | None
) -> None:
    synced = cli.invoke(main, ["surveys", "sync", write(tmp_path, "a.toml", CUSTOM), "--yes"])
    assert synced.exit_code == 0, synced.output
    if surveys_file:
        monkeypatch.setenv("SURVEYS_FILE", write(tmp_path, "b.toml", OTHER))
    for args in (["export", str(tmp_path / "x.csv")], ["apikey", "create", "shop"], ["report"]):
        result = cli.invoke(main, args)
        assert result.exit_code == 0, result.output
    survey = shown(cli)["post-purchase"]
    assert survey["name"] == "After a purchase"
    assert survey["options"] == {"quiet_hours": ["22:00", "08:00"]}
    assert survey["texts"] == {"es": {"question": "¿Nos recomiendas? Del 0 al 10."}}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no storage semantics
@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(None, "cannot read", id="missing file"),
        pytest.param("[[survey]]\nname = 'x'\n", "`key` is required", id="no key"),
        pytest.param("[[survey", "s.toml", id="not TOML"),
    ],
)
def test_a_bad_surveys_file_is_one_line(
    cli: CliRunner, tmp_path: Path, text: str | None, message: str
) -> None:
    path = write(tmp_path, "s.toml", text) if text is not None else str(tmp_path / "s.toml")
    result = cli.invoke(main, ["surveys", "sync", path])
    assert result.exit_code == 1 and message in result.output
    assert "Traceback" not in result.output and len(result.output.splitlines()) == 1

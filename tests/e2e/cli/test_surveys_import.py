"""`npsbot surveys export FILE` / `import FILE` (`sync` is its old name): the difference, the
question, `--yes`, a round trip that changes nothing, and a refused file named in one line.
Start-up never rewrites the definitions."""

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


def test_import_shows_the_difference_asks_and_writes_only_when_told(
    cli: CliRunner, tmp_path: Path
) -> None:
    path = write(tmp_path, "surveys.toml", CUSTOM)
    refused = cli.invoke(main, ["surveys", "import", path], input="n\n")
    assert "changed   post-purchase: texts, options" in refused.output
    assert refused.exit_code == 1 and "nothing written" in refused.output
    assert shown(cli)["post-purchase"]["options"] == {}

    applied = cli.invoke(main, ["surveys", "import", path], input="y\n")
    assert applied.exit_code == 0, applied.output
    assert shown(cli)["post-purchase"]["options"] == {"quiet_hours": ["22:00", "08:00"]}

    again = cli.invoke(main, ["surveys", "import", path, "--yes"])
    assert "unchanged post-purchase" in again.output and "nothing to import" in again.output


def test_the_old_name_sync_still_imports_and_names_a_new_survey_as_added(
    cli: CliRunner, tmp_path: Path
) -> None:
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
        pytest.param("[[survey]]\nname = 'x'\n", "s.toml: survey #1: key: required", id="no key"),
        pytest.param(
            "[[survey]]\nkey = 'a'\ndelay_minutes = -5\n",
            "s.toml: survey 'a': delay_minutes: a whole number from 0 to 525600",
            id="negative delay",
        ),
        pytest.param(
            "[[survey]]\nkey = 'a'\n[survey.texts.pt]\nquestion = 'Oi {nome}'\n",
            "survey 'a': texts.pt.question: unknown placeholder {nome}; allowed: {business}",
            id="unknown placeholder",
        ),
        pytest.param(
            "[[survey]]\nkey = 'a'\nqiet_hours = ['22:00', '08:00']\n",
            "survey 'a': qiet_hours: unknown field",
            id="a typo is not silently ignored",
        ),
        pytest.param(
            "[[survey]]\nkey = 'a'\nreminder_hours = 80\n",
            "survey 'a': reminder_hours: must come before the survey expires",
            id="a reminder after the expiry",
        ),
        pytest.param("[[survey]]\nkey = 'a'\nchannels = [\n", "s.toml: ", id="not TOML"),
        pytest.param("[[survey]]\nkey = 'a'\nname = \n", "(at line 3", id="the line named"),
    ],
)
def test_a_bad_surveys_file_is_one_line(
    cli: CliRunner, tmp_path: Path, text: str | None, message: str
) -> None:
    path = write(tmp_path, "s.toml", text) if text is not None else str(tmp_path / "s.toml")
    result = cli.invoke(main, ["surveys", "import", path])
    assert result.exit_code == 1 and message in result.output
    assert "Traceback" not in result.output and len(result.output.splitlines()) == 1


RICH = """
[[survey]]
key = "post-purchase"
name = "After a purchase"
delay_minutes = 90
reminder_hours = 0
channels = ["sms", "whatsapp"]
quiet_hours = ["22:00", "08:00"]
alert_on = ["detractor", "passive"]
alert_themes = ["delivery"]
promoter_links = { default = "https://g.page/r/acme/review", pt = "https://acme.com.br/r" }

[[survey.routes]]
match = { store = "Polanco" }
telegram_chat_id = "-1005555555555"

[survey.whatsapp_templates.pt]
sid = "HX0a1b2c3d4e5f60718293a4b5c6d7e8f9"
variables = { "2" = "Loja Exemplo" }

[survey.texts.pt]
question = "Olá! De 0 a 10, quanto você recomendaria a {business}?"
why_detractor = "Que pena. O que deu errado?"

[[survey]]
key = "after-delivery"
name = "Delivered"
"""


def test_export_writes_a_file_import_reads_back_unchanged(cli: CliRunner, tmp_path: Path) -> None:
    imported = cli.invoke(main, ["surveys", "import", write(tmp_path, "in.toml", RICH), "--yes"])
    assert imported.exit_code == 0, imported.output
    before = shown(cli)
    assert before["post-purchase"]["reminder_hours"] is None  # 0: no reminder

    out = tmp_path / "out.toml"
    exported = cli.invoke(main, ["surveys", "export", str(out)])
    assert exported.exit_code == 0 and "exported 2 survey(s)" in exported.output
    again = cli.invoke(main, ["surveys", "import", str(out)])  # no --yes: nothing to ask
    assert again.exit_code == 0, again.output
    assert again.output.splitlines() == [
        "unchanged after-delivery",
        "unchanged post-purchase",
        "nothing to import",
    ]
    assert shown(cli) == before

    second = tmp_path / "second.toml"
    assert cli.invoke(main, ["surveys", "export", str(second)]).exit_code == 0
    assert second.read_text(encoding="utf-8") == out.read_text(encoding="utf-8")


def test_an_edited_export_shows_the_field_that_changed(cli: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "out.toml"
    assert cli.invoke(main, ["surveys", "export", str(out)]).exit_code == 0
    text = out.read_text(encoding="utf-8").replace("delay_minutes = 120", "delay_minutes = 30")
    out.write_text(text, encoding="utf-8")
    result = cli.invoke(main, ["surveys", "import", str(out), "--yes"])
    assert "changed   post-purchase: delay_minutes" in result.output
    assert shown(cli)["post-purchase"]["delay_minutes"] == 30


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no storage semantics
def test_export_to_a_place_it_cannot_write_is_one_line(cli: CliRunner, tmp_path: Path) -> None:
    result = cli.invoke(main, ["surveys", "export", str(tmp_path / "no" / "such" / "dir.toml")])
    assert result.exit_code == 1 and "cannot write" in result.output
    assert len(result.output.splitlines()) == 1

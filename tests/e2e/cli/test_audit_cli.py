"""The audit trail from the terminal: each command that changes something (users, keys, surveys,
touchpoints) or takes data out (`npsbot export`) leaves one row, actor and source "cli"; and
`npsbot audit` prints the trail newest first, filtered, as lines or as JSON."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import main
from bot.runtime import Runtime
from tests.e2e.web.test_dashboard import PASSWORD
from tests.helpers import audit_details, audit_trail


@pytest.fixture
def cli(rt: Runtime, database_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SECRET_KEY", "x" * 32)
    return CliRunner()


def run(cli: CliRunner, *args: str) -> Result:
    result = cli.invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result


# The rows are written as the dashboard's are (tests/e2e/web/test_audit.py runs on both).
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_each_command_leaves_one_row_and_npsbot_audit_prints_them(
    cli: CliRunner, rt: Runtime, tmp_path: Path
) -> None:
    run(cli, "user", "create", "ana", "--password", PASSWORD)
    run(cli, "user", "role", "ana", "owner")
    key = run(cli, "apikey", "create", "shop").output.strip()
    run(cli, "apikey", "revoke", "shop")
    surveys = tmp_path / "surveys.toml"
    run(cli, "surveys", "export", str(surveys))
    text = surveys.read_text(encoding="utf-8")
    assert "delay_minutes = 120" in text
    surveys.write_text(text.replace("delay_minutes = 120", "delay_minutes = 90"), "utf-8")
    run(cli, "surveys", "import", str(surveys), "--yes")
    run(cli, "touchpoints", "create", "van-1", "--survey", "post-purchase")
    run(cli, "touchpoints", "rotate", "van-1")
    run(cli, "touchpoints", "disable", "van-1")
    run(cli, "export", str(tmp_path / "out.csv"), "--channel", "sms")

    assert audit_trail(rt) == [
        ("cli", "user.create", "user:ana", "cli"),
        ("cli", "user.role", "user:ana", "cli"),
        ("cli", "apikey.create", "apikey:shop", "cli"),
        ("cli", "apikey.revoke", "apikey:shop", "cli"),
        ("cli", "survey.edit", "survey:post-purchase", "cli"),
        ("cli", "touchpoint.create", "touchpoint:van-1", "cli"),
        ("cli", "touchpoint.rotate", "touchpoint:van-1", "cli"),
        ("cli", "touchpoint.disable", "touchpoint:van-1", "cli"),
        ("cli", "export.responses", None, "cli"),
    ]
    details = audit_details(rt)
    assert details[0] == {"role": "owner"} and details[4] == {"fields": ["delay_minutes"]}
    assert details[-1] == {"format": "csv", "rows": 0, "filters": {"channel": ["sms"]}}

    lines = [line.split("\t") for line in run(cli, "audit").output.splitlines()]
    assert len(lines) == 9
    when = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")  # UTC
    assert all(when.fullmatch(line[0]) for line in lines)
    assert lines[0][1:] == [
        "cli",
        "export.responses",
        "-",
        "cli",
        'filters={"channel": ["sms"]} format=csv rows=0',
    ]
    assert lines[-1][1:] == ["cli", "user.create", "user:ana", "cli", "role=owner"]
    assert key not in run(cli, "audit").output

    rows = [json.loads(line) for line in run(cli, "audit", "--json").output.splitlines()]
    assert [r["action"] for r in rows][-2:] == ["user.role", "user.create"]
    assert rows[-1]["at"].endswith("Z") and rows[-1] == {
        "id": rows[-1]["id"],
        "at": rows[-1]["at"],
        "actor": "cli",
        "action": "user.create",
        "target": "user:ana",
        "source": "cli",
        "detail": {"role": "owner"},
    }

    def actions(*args: str) -> list[str]:
        out = run(cli, "audit", "--json", *args).output.splitlines()
        return [json.loads(line)["action"] for line in out]

    assert actions("--action", "touchpoint") == [
        "touchpoint.disable",
        "touchpoint.rotate",
        "touchpoint.create",
    ]
    assert actions("--target", "user:ana", "--limit", "1") == ["user.role"]
    assert actions("--actor", "dashboard:ana") == []
    assert actions("--since", "2999-01-01") == []
    assert run(cli, "audit", "--action", "contact").output == "no audit events match\n"
    assert cli.invoke(main, ["audit", "--since", "ayer"]).exit_code == 2

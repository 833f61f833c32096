"""`npsbot touchpoints create|list|rotate|disable`: the API's touchpoints from a shell; a
refusal is one line naming the problem, exit code 1."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.runtime import Runtime


@pytest.fixture
def cli(rt: Runtime, database_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SECRET_KEY", "x" * 32)
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "1" * 32)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "t" * 32)
    monkeypatch.setenv("TWILIO_WHATSAPP_FROM", "+14155238886")
    return CliRunner()


def test_create_list_rotate_disable(cli: CliRunner) -> None:
    args = ["touchpoints", "create", "store-centro", "--survey", "post-purchase"]
    made = cli.invoke(main, [*args, "--meta", "store=Centro", "--meta", "city=CDMX"])
    assert made.exit_code == 0, made.output
    tp = json.loads(made.output)
    assert tp["metadata"] == {"store": "Centro", "city": "CDMX"} and tp["enabled"] is True
    code = tp["code"]
    assert tp["links"]["whatsapp"] == {"url": f"https://wa.me/14155238886?text={code}"}
    assert tp["links"]["telegram"] == {"reason": "Telegram is not configured (TELEGRAM_BOT_TOKEN)"}
    assert "SMS" in tp["links"]["sms"]["reason"]
    again = cli.invoke(main, [*args, "--meta", "store=Centro", "--meta", "city=CDMX"])
    assert again.exit_code == 0 and json.loads(again.output)["code"] == code  # idempotent

    listed = cli.invoke(main, ["touchpoints", "list"])
    assert listed.output.split("\t")[:4] == ["store-centro", "post-purchase", code, "enabled"]

    rotated = json.loads(cli.invoke(main, ["touchpoints", "rotate", "store-centro"]).output)
    assert rotated["code"] != code and rotated["code"].startswith("NPS-STOREC")
    disabled = json.loads(cli.invoke(main, ["touchpoints", "disable", "store-centro"]).output)
    assert disabled["enabled"] is False


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["create", "Store!", "--survey", "post-purchase"], "key: must be 1-64 lower-case"),
        (["create", "s1", "--survey", "nope"], "survey: unknown survey 'nope'"),
        (["create", "s1", "--survey", "post-purchase", "--meta", "x"], "must be KEY=VALUE"),
        (["rotate", "nope"], "no touchpoint 'nope'"),
        (["disable", "nope"], "no touchpoint 'nope'"),
    ],
)
def test_a_refusal_is_one_line(cli: CliRunner, args: list[str], line: str) -> None:
    result = cli.invoke(main, ["touchpoints", *args])
    assert result.exit_code == 1 and line in result.output
    assert "Traceback" not in result.output


def test_another_body_for_a_key_is_a_conflict(cli: CliRunner) -> None:
    base = ["touchpoints", "create", "s1", "--survey", "post-purchase"]
    assert cli.invoke(main, base).exit_code == 0
    result = cli.invoke(main, [*base, "--meta", "store=Norte"])
    assert result.exit_code == 1 and "created before with a different body" in result.output

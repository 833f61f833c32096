"""`npsbot telegram set-webhook|delete-webhook` reach the runtime's Telegram channel."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from tests.e2e.channels.rows_telegram import SECRET, settings
from tests.fakes.bot_api import SPEC_FILE, TOKEN, FakeBotApi

URL = "https://nps.example.com/webhooks/telegram"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)  # no .env of the checkout
    return {"DATABASE_URL": f"sqlite:///{tmp_path / 'nps.db'}"}


@pytest.fixture
def fake() -> Iterator[FakeBotApi]:
    if not SPEC_FILE.is_file():
        pytest.skip(f"Telegram Bot API description not found at {SPEC_FILE}")
    with FakeBotApi() as f:
        yield f
    assert f.spec_problems == []


@pytest.mark.parametrize("command", [["set-webhook", "--url", URL], ["delete-webhook"]])
def test_without_telegram_the_error_is_one_line(env: dict[str, str], command: list[str]) -> None:
    result = CliRunner().invoke(main, ["telegram", *command], env=env)
    assert result.exit_code == 1
    assert result.output == "Error: Telegram is not configured: set TELEGRAM_BOT_TOKEN\n"


def test_set_webhook_registers_the_public_url_with_the_secret(
    env: dict[str, str], fake: FakeBotApi
) -> None:
    env |= settings(fake.url) | {"PUBLIC_BASE_URL": "https://nps.example.com/"}
    result = CliRunner().invoke(main, ["telegram", "set-webhook"], env=env)
    assert (result.exit_code, result.output) == (0, f"webhook set: {URL}\n")
    (req,) = fake.requests
    assert req.path == f"/bot{TOKEN}/setWebhook"
    assert (req.form["url"], req.form["secret_token"]) == (URL, SECRET)


def test_set_webhook_needs_a_public_url(env: dict[str, str], fake: FakeBotApi) -> None:
    result = CliRunner().invoke(main, ["telegram", "set-webhook"], env=env | settings(fake.url))
    assert result.exit_code == 1
    assert result.output == "Error: set PUBLIC_BASE_URL (or pass --url)\n"
    assert fake.requests == []


def test_delete_webhook(env: dict[str, str], fake: FakeBotApi) -> None:
    result = CliRunner().invoke(main, ["telegram", "delete-webhook"], env=env | settings(fake.url))
    assert (result.exit_code, result.output) == (0, "webhook removed\n")
    assert [r.path for r in fake.requests] == [f"/bot{TOKEN}/deleteWebhook"]

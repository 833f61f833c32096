"""Configuration: every problem is named with its variable, before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.config import VARIABLES, ConfigError, Settings, load_settings, settings_from

SID = "AC" + "0" * 32
TOKEN = "123456:" + "A" * 35


@pytest.mark.parametrize(
    ("env", "variable", "says"),
    [
        pytest.param(
            {"TWILIO_ACCOUNT_SID": SID, "TWILIO_SMS_FROM": "+15005550006"},
            "TWILIO_AUTH_TOKEN",
            "required when TWILIO_ACCOUNT_SID is set",
            id="sid-without-token",
        ),
        pytest.param(
            {"TWILIO_AUTH_TOKEN": "x" * 32},
            "TWILIO_ACCOUNT_SID",
            "required",
            id="token-without-sid",
        ),
        pytest.param(
            {
                "TWILIO_ACCOUNT_SID": "AB12",
                "TWILIO_AUTH_TOKEN": "t" * 32,
                "TWILIO_SMS_FROM": "+15005550006",
            },
            "TWILIO_ACCOUNT_SID",
            "AC followed by",
            id="bad-sid",
        ),
        pytest.param(
            {"TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": "t" * 32},
            "TWILIO_SMS_FROM",
            "no sender",
            id="twilio-without-sender",
        ),
        pytest.param(
            {
                "TWILIO_ACCOUNT_SID": SID,
                "TWILIO_AUTH_TOKEN": "t" * 32,
                "TWILIO_SMS_FROM": "5512345678",
            },
            "TWILIO_SMS_FROM",
            "E.164",
            id="sender-not-e164",
        ),
        pytest.param(
            {"TELEGRAM_BOT_TOKEN": "nope"}, "TELEGRAM_BOT_TOKEN", "BotFather", id="bad-bot-token"
        ),
        pytest.param(
            {"DATABASE_POOL_SIZE": "0"}, "DATABASE_POOL_SIZE", "at least 1", id="empty-pool"
        ),
        pytest.param(
            {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_SECRET": "has space"},
            "TELEGRAM_WEBHOOK_SECRET",
            "A-Z",
            id="bad-webhook-secret",
        ),
        pytest.param(
            {"TELEGRAM_WEBHOOK_SECRET": "abc"},
            "TELEGRAM_BOT_TOKEN",
            "required",
            id="secret-without-bot",
        ),
        pytest.param(
            {"DATABASE_URL": "mysql://x/y"}, "DATABASE_URL", "unsupported database", id="mysql"
        ),
        pytest.param(
            {"DATABASE_URL": "::not a url::"},
            "DATABASE_URL",
            "not a database URL",
            id="garbage-url",
        ),
        pytest.param({"DEFAULT_LANGUAGE": "fr"}, "DEFAULT_LANGUAGE", "es, en, pt", id="language"),
        pytest.param({"DEFAULT_COUNTRY": "mexico"}, "DEFAULT_COUNTRY", "two-letter", id="country"),
        pytest.param({"SANDBOX_ENABLED": "maybe"}, "SANDBOX_ENABLED", "true or false", id="bool"),
        pytest.param({"HTTP_TIMEOUT": "soon"}, "HTTP_TIMEOUT", "not a number", id="timeout-nan"),
        pytest.param({"HTTP_TIMEOUT": "-1"}, "HTTP_TIMEOUT", "positive", id="timeout-negative"),
        pytest.param(
            {"PUBLIC_BASE_URL": "example.com"}, "PUBLIC_BASE_URL", "absolute", id="public-url"
        ),
        pytest.param(
            {"STAFF_TELEGRAM_CHAT_ID": "staff"},
            "STAFF_TELEGRAM_CHAT_ID",
            "numeric",
            id="staff-chat",
        ),
        pytest.param(
            {"SURVEYS_FILE": "/nonexistent.toml"}, "SURVEYS_FILE", "no such file", id="surveys-file"
        ),
    ],
)
def test_bad_settings_name_the_variable_and_the_problem(
    env: dict[str, str], variable: str, says: str
) -> None:
    with pytest.raises(ConfigError) as info:
        settings_from(env)
    assert variable in info.value.problems
    assert says in info.value.problems[variable]
    assert variable in str(info.value)


def test_defaults_need_no_configuration_and_use_sqlite() -> None:
    s = settings_from({})
    assert s.database_url == "sqlite:///npsbot.db"
    assert s.sandbox_enabled and s.default_language == "es"


def test_heroku_postgres_urls_use_the_psycopg_driver() -> None:
    s = settings_from({"DATABASE_URL": "postgres://u:p@db.example:5432/npsbot"})
    assert s.sqlalchemy_url == "postgresql+psycopg://u:p@db.example:5432/npsbot"


def test_dotenv_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("DEFAULT_LANGUAGE=pt\nBUSINESS_NAME=Loja\n")
    s = load_settings({"BUSINESS_NAME": "Tienda"}, dotenv=env)
    assert (s.default_language, s.business_name) == ("pt", "Tienda")


def test_secrets_are_not_in_the_settings_repr() -> None:
    s = settings_from({"TELEGRAM_BOT_TOKEN": TOKEN, "SECRET_KEY": "supersecretvalue"})
    assert TOKEN not in repr(s) and "supersecretvalue" not in repr(s)


def test_every_variable_maps_to_a_setting_and_is_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    fields = set(Settings.__dataclass_fields__)
    for var, (name, _) in VARIABLES.items():
        assert name in fields
        assert f"`{var}`" in readme, f"{var} is not documented in the README"


def test_the_cli_reports_bad_configuration_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", SID)
    monkeypatch.chdir(Path(__file__).parent)
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 1
    assert "TWILIO_AUTH_TOKEN: required when TWILIO_ACCOUNT_SID is set" in result.output
    assert "Traceback" not in result.output

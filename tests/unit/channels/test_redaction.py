"""One log redaction: each channel declares its secret settings, bot/logs.py masks them all."""

from __future__ import annotations

import dataclasses
import importlib
import io
import logging
from collections.abc import Iterator

import pytest

from bot.config import Settings, settings_from
from bot.logs import MASK, redaction
from channels import registry
from tests.fakes.bot_api import TOKEN

AUTH_TOKEN = "f3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8"
HOOK_SECRET = "wh-secret_0123456789abcdefABCDEF"
SECRET_KEY = "the-app-secret-key-0123456789"
CONF = settings_from(
    {
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_SMS_FROM": "+15005550006",
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": HOOK_SECRET,
        "SECRET_KEY": SECRET_KEY,
    }
)
ALL = (AUTH_TOKEN, TOKEN, HOOK_SECRET, SECRET_KEY)


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """What the process's log handler writes, with the filter `setup_logging` gives it."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(redaction(CONF))
    log = logging.getLogger("tests.redaction")
    log.addHandler(handler)
    log.propagate = False
    yield out
    log.removeHandler(handler)
    log.propagate = True


@pytest.mark.parametrize(
    "module", sorted({f.partition(":")[0] for f in registry.FACTORIES.values()})
)
def test_each_channel_declares_its_secrets_among_the_hidden_settings(module: str) -> None:
    declared = importlib.import_module(module).SECRETS
    hidden = {f.name for f in dataclasses.fields(Settings) if not f.repr}
    assert set(declared) <= hidden


def test_the_registry_gathers_every_configured_secret() -> None:
    assert set(registry.secrets(CONF)) == {AUTH_TOKEN, TOKEN, HOOK_SECRET}
    assert registry.secrets(settings_from({})) == ()


@pytest.mark.parametrize("secret", ALL)
def test_a_secret_in_a_message_is_masked(lines: io.StringIO, secret: str) -> None:
    logging.getLogger("tests.redaction").warning("calling https://api.example/%s/x", secret)
    assert lines.getvalue() == f"calling https://api.example/{MASK}/x\n"


@pytest.mark.parametrize("secret", ALL)
def test_a_secret_in_a_traceback_is_masked(lines: io.StringIO, secret: str) -> None:
    try:
        raise RuntimeError(f"refused /bot{secret}/sendMessage")
    except RuntimeError:
        logging.getLogger("tests.redaction").exception("send failed")
    assert secret not in lines.getvalue()
    assert f"RuntimeError: refused /bot{MASK}/sendMessage" in lines.getvalue()


def test_a_secret_in_a_stack_is_masked(lines: io.StringIO) -> None:
    logging.getLogger("tests.redaction").warning("here %s", TOKEN, stack_info=True)
    assert TOKEN not in lines.getvalue() and "Stack (most recent call last)" in lines.getvalue()


def test_values_too_short_to_be_secrets_are_left_alone() -> None:
    short = dataclasses.replace(CONF, secret_key="abc")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "abc and %s", (TOKEN,), None)
    redaction(short).filter(record)
    assert record.getMessage() == f"abc and {MASK}"


def test_apprise_urls_are_masked_whole_and_one_by_one() -> None:
    slack = "slack://T1A2B3C4D/B5E6F7G8H/abcdefghijklmnopqrstuvwx"
    mail = "mailtos://user:hunter2-long-password@example.com"
    conf = dataclasses.replace(CONF, staff_notify_urls=f"{slack}, {mail}")
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(redaction(conf))
    log = logging.getLogger("tests.redaction.apprise")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("notify failed for %s", slack)
        log.warning("all of them: %s", conf.staff_notify_urls)
    finally:
        log.removeHandler(handler)
        log.propagate = True
    assert "abcdefghijklmnopqrstuvwx" not in out.getvalue()
    assert "hunter2" not in out.getvalue()
    assert out.getvalue().count(MASK) == 2


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        pytest.param(
            '"GET /api/v1/nps?api_key=nps_Zk3vQ0aR9xW2mB7cT5yL1pN8 HTTP/1.1" 200',
            '"GET /api/v1/nps?api_key=nps_*** HTTP/1.1" 200',
            id="api-key-in-a-query",
        ),
        pytest.param(
            '127.0.0.1 - nps_a-b_c0123456789 [02/Dec/2026:05:00:00 +0000] "GET /api/v1/nps"',
            '127.0.0.1 - nps_*** [02/Dec/2026:05:00:00 +0000] "GET /api/v1/nps"',
            id="api-key-as-basic-auth-user",
        ),
        pytest.param(
            "The 'To' number +5215512345678 is not a valid phone number.",
            "The 'To' number +*********5678 is not a valid phone number.",
            id="e164-in-a-provider-error",
        ),
        pytest.param("to whatsapp:+14155238886", "to whatsapp:+*******8886", id="whatsapp"),
        pytest.param("?to=%2B5215512345678&x=1", "?to=%2B*********5678&x=1", id="url-encoded"),
        pytest.param("call +52 55 1234-5678", "call +** ** ****-5678", id="spaced"),
        pytest.param(
            "update 912345678 at 1764651600, 3 keys nps_ shown, +1 point",
            "update 912345678 at 1764651600, 3 keys nps_ shown, +1 point",
            id="ids-times-and-prose-stay",
        ),
    ],
)
def test_api_keys_and_phone_numbers_are_masked_in_every_line(
    lines: io.StringIO, line: str, shown: str
) -> None:
    logging.getLogger("tests.redaction").warning("%s", line)
    assert lines.getvalue() == shown + "\n"

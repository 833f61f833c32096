"""Logging set-up, and the one log redaction: secrets never reach a log line.

Which settings are secret is declared where they are used: each channel module lists its own
(`SECRETS`, gathered by `channels.registry.secrets`), like Apprise's plugins mark their private
fields; the app adds SECRET_KEY. `Redact` masks every one of them in the message, the traceback
and the stack of each record that reaches the process's log handler.

Two shapes are masked in every line whatever the configuration: API keys (`nps_…`, as a query
parameter or a Basic-auth user in gunicorn's access log) and phone numbers (`+` or `%2B` and
7-15 digits, as in a provider's error text): all but the last 4 digits.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable

from bot.accounts.apikeys import PREFIX as API_KEY_PREFIX
from bot.config import Settings
from channels import registry

MASK = "***"
# Shorter values would mask ordinary words; no provider issues secrets this short.
MIN_SECRET = 6
# A key's random part (token_urlsafe); 8+ characters, so the bare prefix in prose stays.
API_KEY = re.compile(re.escape(API_KEY_PREFIX) + r"[A-Za-z0-9_-]{8,}")
# E.164 (at most 15 digits), maybe URL-encoded or written with spaces or dashes.
PHONE = re.compile(r"(?<![\w%])(?:\+|%2B)\d(?:[ -]?\d){6,14}(?!\d)", re.IGNORECASE)
KEEP_DIGITS = 4


def _mask_phone(match: re.Match[str]) -> str:
    text = match.group()
    lead = 1 if text.startswith("+") else 3  # `+` or `%2B`: its 2 is no digit of the number
    digits = sum(c.isdigit() for c in text[lead:])
    out, seen = [text[:lead]], 0
    for c in text[lead:]:
        seen += c.isdigit()
        out.append("*" if c.isdigit() and seen <= digits - KEEP_DIGITS else c)
    return "".join(out)


class Redact(logging.Filter):
    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s and len(s) >= MIN_SECRET}, key=len)[::-1]
        self._format = logging.Formatter()

    def mask(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        text = API_KEY.sub(API_KEY_PREFIX + MASK, text)
        return PHONE.sub(_mask_phone, text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = self.mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            # Formatted here once, so the handler prints the masked text (Formatter reuses it).
            record.exc_text = self._format.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        if record.stack_info:
            record.stack_info = self.mask(record.stack_info)
        return True


def redaction(settings: Settings) -> Redact:
    """The filter for this configuration: every declared channel secret and SECRET_KEY."""
    return Redact([*registry.secrets(settings), settings.secret_key])


def setup_logging(settings: Settings) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(redaction(settings))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    # httpx logs every request URL at INFO (Telegram's carry the token, masked above): noise.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # The twilio client logs ~11 INFO lines of request headers per send, on the logger
    # channels/twilio.py hands it.
    logging.getLogger("channels.twilio.http").setLevel(logging.WARNING)
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)  # the client's default
    # APScheduler logs every one-second tick at INFO, and a tick that outlasts the second
    # (the next one is skipped, by design) at WARNING.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)


def warm_up() -> None:
    """Load the comment analyser's language models in the background at start, so the first
    customer's comment is not the one that waits for them (seconds on a small machine)."""

    def work() -> None:
        import scoring  # loaded in the background thread: the point of warming up

        scoring.analyze_comment("Muy buena atención, gracias", score=9)

    threading.Thread(target=work, name="warm-up", daemon=True).start()

"""Logging set-up. Secrets never reach a log line: a filter masks every configured secret."""

from __future__ import annotations

import logging

from bot.config import Settings

SECRET_FIELDS = ("twilio_auth_token", "telegram_bot_token", "telegram_webhook_secret", "secret_key")


class Redact(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s and len(s) >= 6]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        masked = message
        for secret in self.secrets:
            masked = masked.replace(secret, "***")
        if masked != message:
            record.msg, record.args = masked, None
        return True


def redaction(settings: Settings) -> Redact:
    return Redact([getattr(settings, f) or "" for f in SECRET_FIELDS])


def setup_logging(settings: Settings) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(redaction(settings))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    # httpx logs every request URL at INFO, and Telegram's URLs contain the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
    # APScheduler logs every one-second tick at INFO, and a tick that outlasts the second
    # (the next one is skipped, by design) at WARNING.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)


def warm_up() -> None:
    """Load the comment analyser's language models in the background at start, so the first
    customer's comment is not the one that waits for them (seconds on a small machine)."""
    import threading

    def work() -> None:
        import scoring

        scoring.analyze_comment("Muy buena atención, gracias", score=9)

    threading.Thread(target=work, name="warm-up", daemon=True).start()

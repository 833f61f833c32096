"""`npsbot serve`: gunicorn (one process, threads) with the dispatcher loop inside it."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from bot.config import Settings
from bot.logs import redaction, setup_logging, warm_up
from bot.web.app import create_app
from scheduler.loop import Loop


class _Server(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        setup_logging(self.settings)
        warm_up()
        app = create_app(self.settings)
        if self.settings.scheduler_enabled:
            Loop(app.extensions["npsbot"]).start()
        return app


def redacted_logger(settings: Settings) -> type[Logger]:
    """gunicorn's logger with the one redaction (bot/logs.py) on its access and error lines: a
    key in a query string or a Basic-auth user never reaches the access log."""
    redact = redaction(settings)

    class RedactedLogger(Logger):  # type: ignore[misc]
        def setup(self, cfg: Any) -> None:
            super().setup(cfg)  # (re)makes the handlers: the filter goes on each new one
            for log in (self.error_log, self.access_log):
                for handler in log.handlers:
                    handler.addFilter(redact)

    return RedactedLogger


def serve(settings: Settings, *, host: str, port: int, threads: int = 8) -> None:
    print(f"npsbot serving on http://{host}:{port}  (sandbox: http://{host}:{port}/sandbox)")
    _Server(
        settings,
        {
            "bind": f"{host}:{port}",
            "workers": 1,
            "threads": threads,
            "worker_class": "gthread",
            "accesslog": "-",
            "logger_class": redacted_logger(settings),
            "timeout": 60,
        },
    ).run()

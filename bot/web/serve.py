"""`npsbot serve`: gunicorn (one process, threads) with the dispatcher loop inside it."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

from bot.config import Settings
from bot.logs import setup_logging, warm_up
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
            "timeout": 60,
        },
    ).run()

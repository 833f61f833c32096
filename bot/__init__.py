"""npsbot: Net Promoter Score surveys over WhatsApp, SMS and Telegram.

`gunicorn 'bot:create_app()'` serves the web app. The import is lazy so that the conversation
engine and the worker never load the web framework.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(config: Any = None) -> Flask:
    from bot.logs import setup_logging, warm_up
    from bot.web.app import create_app as factory

    app = factory(config)
    setup_logging(app.extensions["npsbot"].settings)
    warm_up()
    return app

"""What blueprints share, reached through `current_app` (as in Flask's tutorial): blueprints
import this module, never the app factory."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from bot.runtime import Runtime


def runtime() -> Runtime:
    rt: Runtime = current_app.extensions["npsbot"]
    return rt


def db_ok(rt: Runtime) -> bool:
    try:
        with rt.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except SQLAlchemyError:
        return False

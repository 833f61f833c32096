"""The Flask app factory."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flask import Flask, has_request_context, jsonify, request
from flask.json.provider import DefaultJSONProvider
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy.exc import DataError, SQLAlchemyError
from werkzeug.exceptions import HTTPException

from bot.bootstrap import build_runtime
from bot.config import Settings, load_settings, settings_from
from bot.events import MessageBus
from bot.runtime import Runtime
from bot.web import (
    api,
    dashboard,
    delighted,
    health,
    home,
    hooks_api,
    reports,
    sandbox,
    sandbox_staff,
    shops,
    survey_page,
    webhooks,
)

if TYPE_CHECKING:
    from itsdangerous import URLSafeTimedSerializer  # Flask's own dependency

log = logging.getLogger(__name__)


class _CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions with the signer built once per app, not per request (on
    a webhook, which has no cookie, building it was most of the session's cost)."""

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        key = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        cached = app.extensions.get("npsbot_signer")
        if cached is None or cached[0] != key:
            cached = (key, super().get_signing_serializer(app))
            app.extensions["npsbot_signer"] = cached
        signer: URLSafeTimedSerializer | None = cached[1]
        return signer

    def get_cookie_secure(self, app: Flask) -> bool:
        # Also over https seen through a trusted proxy (dashboard.py: TRUSTED_PROXIES).
        return super().get_cookie_secure(app) or (has_request_context() and request.is_secure)


class _JSON(DefaultJSONProvider):
    """Flask's JSON, with a body nested too deep for the parser a ValueError like any other bad
    JSON (the 400 it gets everywhere) instead of a RecursionError (a 500)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


def create_app(
    config: Settings | Mapping[str, Any] | None = None, *, bus: MessageBus | None = None
) -> Flask:
    """Build the app. `config`: Settings, a mapping of variables, or None for the environment."""
    if config is None:
        settings = load_settings()
    elif isinstance(config, Settings):
        settings = config
    else:
        settings = settings_from(config)
    app = Flask(__name__)
    app.json = _JSON(app)
    app.session_interface = _CookieSessions()
    app.config["SECRET_KEY"] = settings.secret_key
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024  # no provider sends more
    init_app(app, build_runtime(settings, bus=bus))
    return app


def init_app(app: Flask, rt: Runtime) -> None:
    app.extensions["npsbot"] = rt
    app.register_blueprint(health.bp)
    app.register_blueprint(home.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(hooks_api.bp)
    app.register_blueprint(reports.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(survey_page.bp)
    app.register_blueprint(shops.bp)
    app.register_blueprint(delighted.bp)
    if rt.settings.sandbox_enabled:
        app.register_blueprint(sandbox.bp)
        app.register_blueprint(sandbox_staff.bp)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        name = (exc.name or "error").lower().replace(" ", "_")
        return jsonify(error=name, reason=exc.description), exc.code

    @app.errorhandler(DataError)
    def _refused_value(exc: DataError) -> Any:
        # A value the database refuses (a number out of range, a NUL): a retry fails the same
        # way, so not a 503. The edge validates first; this is the net behind it.
        log.warning("value refused by the database: %s", type(exc.orig).__name__)
        return jsonify(error="invalid", reason="a value the database cannot store"), 422

    @app.errorhandler(SQLAlchemyError)
    def _storage_error(exc: SQLAlchemyError) -> Any:
        # Connection lost, a lock timeout, a serialization failure, the schema mid-migration:
        # nothing was stored, and 503 makes the provider retry, so the message is not lost.
        log.error("storage failure: %s", type(exc).__name__)
        return jsonify(error="storage_unavailable", reason="storage failure, retry later"), 503

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        log.exception("unhandled error")
        return jsonify(error="internal_error", reason="unexpected error, retry later"), 500

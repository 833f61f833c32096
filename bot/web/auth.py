"""Bearer API keys for /api/v1."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import g, jsonify, request
from sqlalchemy.orm import Session

from bot.accounts.apikeys import check_key, needs_touch, touch_key
from bot.storage.audit import By
from bot.web.context import runtime

F = TypeVar("F", bound=Callable[..., Any])


def api_error(status: int, error: str, reason: str, field: str | None = None) -> Any:
    body: dict[str, Any] = {"error": error, "reason": reason}
    if field is not None:
        body["field"] = field
    return jsonify(body), status


def _key_error(s: Session) -> Any | None:
    """The 401 answer for a request without a valid key (None: the key is good). Reads only."""
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key:
        return api_error(401, "unauthorized", "send `Authorization: Bearer <api key>`")
    row = check_key(s, key.strip())
    if row is None:
        return api_error(401, "unauthorized", "unknown or revoked API key")
    g.api_key = row.name
    g.api_key_stale = needs_touch(row, runtime().clock())
    g.api_key_id = row.id
    return None


def _touch() -> None:
    """ "Last used", when stale, in its own short write transaction (writer lock first), after
    the key's read: no read transaction of the API ever turns into a write."""
    if g.pop("api_key_stale", False):
        rt = runtime()
        with rt.db.session_for_update() as s:
            touch_key(s, g.api_key_id, rt.clock())


def api_by() -> By:
    """The request's API key and client address, as the audit trail names them."""
    return By(f"api:{g.get('api_key', '?')}", request.remote_addr or "?")


def require_api_key(view: F) -> F:
    """The view runs only with a valid key; it opens its own unit of work."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with runtime().db.session() as s:
            error = _key_error(s)
        if error is not None:
            return error
        _touch()
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def read_with_api_key(view: F) -> F:
    """For read-only views: the key is checked in the transaction the view then reads in
    (`api_session()`), one connection and one round trip fewer per report. The transaction
    stays read-only (a stale "last used" is written before it, in its own)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        db = runtime().db
        with db.sessions() as s:
            error = _key_error(s)
            if error is not None:
                return error
            if g.get("api_key_stale"):
                # Once a minute per key: end the read, write "last used", read afresh.
                s.rollback()
                _touch()
            g.api_session = s
            try:
                out = view(*args, **kwargs)
                s.commit()
                return out
            finally:
                g.pop("api_session", None)

    return wrapper  # type: ignore[return-value]


def api_session() -> Session:
    """The session `read_with_api_key` opened for this request."""
    s: Session = g.api_session
    return s

"""Bearer API keys for /api/v1."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import g, jsonify, request

from bot.apikeys import check_key
from bot.web.app import runtime

F = TypeVar("F", bound=Callable[..., Any])


def api_error(status: int, error: str, reason: str, field: str | None = None) -> Any:
    body: dict[str, Any] = {"error": error, "reason": reason}
    if field is not None:
        body["field"] = field
    return jsonify(body), status


def require_api_key(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        header = request.headers.get("Authorization", "")
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key:
            return api_error(401, "unauthorized", "send `Authorization: Bearer <api key>`")
        rt = runtime()
        with rt.db.session() as s:
            row = check_key(s, key.strip(), rt.clock())
            if row is None:
                return api_error(401, "unauthorized", "unknown or revoked API key")
            g.api_key = row.name
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]

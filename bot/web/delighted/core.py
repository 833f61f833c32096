"""`/delighted/v1`: the blueprint, Delighted's authentication (HTTP Basic, the API key as the
user name), its rate limit (429 with `Retry-After`), its errors (`{"status", "message"}`) and
its request bodies (JSON, or form-encoded with `properties[key]=value`)."""

from __future__ import annotations

import base64
import binascii
import math
import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, g, jsonify, request
from limits import RateLimitItemPerMinute, storage, strategies

from bot.accounts.apikeys import check_key, needs_touch, touch_key
from bot.integrations.delighted.shapes import Refused, nest
from bot.web.context import runtime

bp = Blueprint("delighted", __name__, url_prefix="/delighted/v1")
F = TypeVar("F", bound=Callable[..., Any])
# Delighted's docs: https://app.delighted.com/docs/api (authentication, errors, rate limits).
REALM = 'Basic realm="Delighted-compatible API (npsbot)"'


def error(status: int, message: str) -> Any:
    response = jsonify(status=status, message=message)
    if status == 401:
        response.headers["WWW-Authenticate"] = REALM
    return response, status


def route(path: str, methods: list[str]) -> Callable[[F], F]:
    """Register `path` and `path.json`: Delighted's docs use the suffix, its clients do not."""

    def register(view: F) -> F:
        bp.add_url_rule(path, view_func=view, methods=methods)
        bp.add_url_rule(
            f"{path}.json", view_func=view, methods=methods, endpoint=f"{view.__name__}_json"
        )
        return view

    return register


def _key() -> str | None:
    """The API key from `Authorization: Basic base64(key:)`; Delighted's Python client sends
    base64(key) with no colon, curl's `-u key:` the colon: both are read."""
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[0].strip() or None


class _Limiter:
    """Requests per minute per key (moving window), in Redis when `REDIS_URL` is set."""

    def __init__(self, per_minute: int, redis_url: str | None) -> None:
        self.item = RateLimitItemPerMinute(max(per_minute, 1))
        self.limiter = strategies.MovingWindowRateLimiter(
            storage.storage_from_string(redis_url or "memory://")
        )

    def wait(self, key: str) -> int:
        """0 when the request may go ahead, else the seconds to wait."""
        if self.limiter.hit(self.item, "delighted", key):
            return 0
        reset, _ = self.limiter.get_window_stats(self.item, "delighted", key)
        return max(1, math.ceil(reset - time.time()))  # the storage's windows are wall-clock


def _limiter() -> _Limiter | None:
    settings = runtime().settings
    if settings.delighted_rate_limit <= 0:
        return None
    limiter = current_app.extensions.get("npsbot_delighted_limiter")
    if limiter is None:
        limiter = _Limiter(settings.delighted_rate_limit, settings.redis_url)
        current_app.extensions["npsbot_delighted_limiter"] = limiter
    return limiter


def delighted_api(view: F) -> F:
    """The view runs with a valid key, under the rate limit; `Refused` becomes Delighted's
    error body. `g.actor` is the key's audit actor, `g.source` the client's address."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        rt = runtime()
        key = _key()
        with rt.db.session() as s:
            row = check_key(s, key) if key else None
            if row is None:
                return error(401, "Unauthorized: send your npsbot API key as the user name")
            name, key_id, stale = row.name, row.id, needs_touch(row, rt.clock())
        limiter = _limiter()
        if limiter is not None and (wait := limiter.wait(str(key_id))):
            response, status = error(429, "Too Many Requests")
            response.headers["Retry-After"] = str(wait)
            return response, status
        if stale:
            with rt.db.session_for_update() as s:
                touch_key(s, key_id, rt.clock())
        g.actor, g.source = f"api:{name}", request.remote_addr
        try:
            return view(*args, **kwargs)
        except Refused as exc:
            return error(exc.status, str(exc))

    return wrapper  # type: ignore[return-value]


def body() -> dict[str, Any]:
    """The request's parameters: a JSON object, or a form (Delighted's curl examples)."""
    if request.mimetype == "application/json" or (request.data and not request.form):
        data = request.get_json(silent=True)
        if data is None and not request.data:
            return {}
        if not isinstance(data, dict):
            raise Refused("the body must be a JSON object of parameters", 400)
        return data
    return nest(request.form.to_dict())


def params() -> dict[str, Any]:
    """The query string in the same shape (`expand[]=person` a list)."""
    out = nest({k: v for k, v in request.args.items() if not k.endswith("[]")})
    for k in request.args:
        if k.endswith("[]"):
            out[k[:-2]] = request.args.getlist(k)
    return out


def expand() -> list[str]:
    return request.args.getlist("expand[]") + request.args.getlist("expand")


def paged(items: list[dict[str, Any]], cursor: int | None) -> Response:
    """A list answer; with more to come, `Link: <…&page_info=…>; rel="next"` (Delighted's
    cursor pagination, which its clients' `auto_paging_iter` follows)."""
    response = jsonify(items)
    if cursor is not None:
        query = [(k, v) for k, v in request.args.items(multi=True) if k != "page_info"]
        query.append(("page_info", str(cursor)))
        response.headers["Link"] = f'<{request.base_url}?{urlencode(query)}>; rel="next"'
    return response

"""/api/v1/webhooks: the business's endpoints for npsbot's events (issue 21). The secret is in
the answer of a creation and of a rotation only; everything else shows the subscription without
it. Errors are JSON with the reason (422 for a field, 404 for an unknown id)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from flask import Blueprint, g, jsonify, request
from sqlalchemy.orm import Session

from bot.integrations import webhooks as hooks
from bot.storage.db import MAX_ID
from bot.survey.fields import Invalid, moment
from bot.web.auth import api_error, require_api_key
from bot.web.context import runtime

bp = Blueprint("webhooks_api", __name__, url_prefix="/api/v1/webhooks")
T = TypeVar("T")
MAX_LIMIT = 200


def _actor() -> hooks.Actor:
    return hooks.Actor(f"api:{g.api_key}", (request.remote_addr or "?")[:64])


def _body() -> dict[str, Any] | None:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else None


def _run(webhook_id: int, write: bool, fn: Callable[[Session], T]) -> T | Any:
    """`fn` in a transaction; its refusals as the API's JSON errors."""
    rt = runtime()
    if webhook_id > MAX_ID:
        return api_error(404, "not_found", f"no webhook {webhook_id}")
    try:
        with rt.db.session_for_update() if write else rt.db.session() as s:
            return fn(s)
    except hooks.Refused as exc:
        field = str(exc).split(":", 1)[0] if ":" in str(exc) else None
        return api_error(422, "invalid", str(exc), field if field and " " not in field else None)
    except Invalid as exc:
        return api_error(422, "invalid", exc.reason, exc.field)
    except LookupError as exc:
        return api_error(404, "not_found", str(exc).strip("'\""))


@bp.post("")
@require_api_key
def create() -> Any:
    data = _body()
    if data is None:
        return api_error(400, "bad_request", "the body must be a JSON object")
    rt = runtime()

    def make(s: Session) -> Any:
        sub, secret = hooks.create(
            s,
            url=data.get("url"),
            events=data.get("events"),
            description=data.get("description"),
            now=rt.clock(),
            actor=_actor(),
        )
        return jsonify(hooks.subscription_json(sub, rt.clock()) | {"secret": secret}), 201

    return _run(0, True, make)


@bp.get("")
@require_api_key
def listing() -> Any:
    now = runtime().clock()
    return _run(
        0,
        False,
        lambda s: jsonify(
            {"webhooks": [hooks.subscription_json(w, now) for w in hooks.listing(s)]}
        ),
    )


@bp.get("/<int:webhook_id>")
@require_api_key
def get(webhook_id: int) -> Any:
    now = runtime().clock()
    return _run(
        webhook_id, False, lambda s: jsonify(hooks.subscription_json(hooks.get(s, webhook_id), now))
    )


@bp.delete("/<int:webhook_id>")
@require_api_key
def remove(webhook_id: int) -> Any:
    now = runtime().clock()

    def drop(s: Session) -> Any:
        hooks.remove(s, webhook_id, now=now, actor=_actor())
        return "", 204

    return _run(webhook_id, True, drop)


@bp.patch("/<int:webhook_id>")
@require_api_key
def change(webhook_id: int) -> Any:
    """{"enabled": false} stops the calls (events wait); {"enabled": true} resumes them."""
    data = _body()
    if data is None or not isinstance(data.get("enabled"), bool):
        return api_error(422, "invalid", "enabled: true or false", "enabled")
    now = runtime().clock()

    def toggle(s: Session) -> Any:
        sub = hooks.set_enabled(s, webhook_id, data["enabled"], now=now, actor=_actor())
        return jsonify(hooks.subscription_json(sub, now))

    return _run(webhook_id, True, toggle)


@bp.post("/<int:webhook_id>/rotate")
@require_api_key
def rotate(webhook_id: int) -> Any:
    """A new secret; the old one signs too for `overlap_hours` (24 by default)."""
    data = _body() or {}
    hours = data.get("overlap_hours", hooks.DEFAULT_OVERLAP.total_seconds() / 3600)
    if isinstance(hours, bool) or not isinstance(hours, int | float) or not 0 <= hours <= 168:
        return api_error(422, "invalid", "overlap_hours: a number from 0 to 168", "overlap_hours")
    now = runtime().clock()

    def turn(s: Session) -> Any:
        secret = hooks.rotate(
            s, webhook_id, now=now, actor=_actor(), overlap=timedelta(hours=hours)
        )
        return jsonify(hooks.subscription_json(hooks.get(s, webhook_id), now) | {"secret": secret})

    return _run(webhook_id, True, turn)


@bp.get("/<int:webhook_id>/deliveries")
@require_api_key
def deliveries(webhook_id: int) -> Any:
    """The delivery log, newest first: state, attempts, status code, latency, error."""
    raw = request.args.get("limit", "50")
    if not re.fullmatch(r"[0-9]{1,4}", raw) or not 1 <= int(raw) <= MAX_LIMIT:
        return api_error(422, "invalid", f"limit: a number from 1 to {MAX_LIMIT}", "limit")
    state = request.args.get("state") or None

    def log(s: Session) -> Any:
        rows = hooks.deliveries(s, webhook_id, limit=int(raw), state=state)
        return jsonify({"deliveries": [hooks.delivery_json(d, e) for d, e in rows]})

    return _run(webhook_id, False, log)


@bp.post("/<int:webhook_id>/replay")
@require_api_key
def replay(webhook_id: int) -> Any:
    """{"delivery_id": 12} or {"since": …, "until": …}: sent again, with the same event ids."""
    data = _body()
    if data is None:
        return api_error(400, "bad_request", "the body must be a JSON object")
    rt = runtime()
    one = data.get("delivery_id")
    if one is not None and (isinstance(one, bool) or not isinstance(one, int) or one < 1):
        return api_error(422, "invalid", "delivery_id: a delivery's id", "delivery_id")
    if isinstance(one, int) and one > MAX_ID:
        return api_error(404, "not_found", f"no delivery {one} of webhook {webhook_id} to replay")

    def again(s: Session) -> Any:
        since = moment(data["since"], "since") if data.get("since") is not None else None
        until = moment(data["until"], "until") if data.get("until") is not None else None
        n = hooks.replay(
            s, webhook_id, now=rt.clock(), actor=_actor(), delivery_id=one, since=since, until=until
        )
        return jsonify({"replayed": n})

    result = _run(webhook_id, True, again)
    rt.wake.set()
    return result

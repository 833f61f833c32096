"""The business API, /api/v1: purchases in, invitations out; errors are JSON naming the field."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, jsonify, request

from bot.storage.db import MAX_ID, refused_text
from bot.storage.models import Invitation
from bot.survey.purchases import (
    MAX_ORDER_ID,
    Conflict,
    Invalid,
    Outcome,
    deep_link,
    mark_delivered,
    parse_moment,
    parse_purchase,
    register_purchase,
)
from bot.web.auth import api_error, require_api_key
from bot.web.context import runtime

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def invitation_json(inv: Invitation, link: str | None = None) -> dict[str, Any]:
    r = inv.response
    return {
        "invitation_id": inv.id,
        "order_id": inv.order_id,
        "survey": inv.survey.key,
        "status": inv.state,
        "reason": inv.skip_reason
        or (inv.last_error if inv.state in ("failed", "unknown") else None),
        "due_at": _iso(inv.due_at),
        "sent_at": _iso(inv.sent_at),
        "channel": inv.channel,
        "telegram_link": link,
        "response": None
        if r is None
        else {"score": r.score, "category": r.category, "comment": r.comment, "themes": r.themes},
    }


def _outcome_json(o: Outcome) -> dict[str, Any]:
    body = invitation_json(o.invitation, o.telegram_link)
    keep = ("invitation_id", "status", "reason", "due_at", "channel", "telegram_link")
    box = o.sandbox_address
    return {k: body[k] for k in keep} | {"sandbox_url": box and f"/sandbox?address={box}"}


@bp.post("/purchases")
@require_api_key
def purchases() -> Any:
    rt = runtime()
    data = request.get_json(silent=True)
    if data is None:
        return api_error(
            400, "bad_request", "the body must be JSON (Content-Type: application/json)"
        )
    try:
        purchase = parse_purchase(data, country=rt.settings.default_country)
        outcome = register_purchase(rt, purchase)
    except Invalid as exc:
        return api_error(422, "invalid", exc.reason, exc.field)
    except Conflict as exc:
        return api_error(409, "conflict", str(exc), "order_id")
    with rt.db.session() as s:
        s.add(outcome.invitation)
        body = _outcome_json(outcome)
    return jsonify(body), 201 if outcome.created else 200


@bp.post("/purchases/<order_id>/delivered")
@require_api_key
def delivered(order_id: str) -> Any:
    """The order reached the customer: the survey's delay counts from the delivery."""
    rt = runtime()
    data = request.get_json(silent=True) or {}
    raw = data.get("delivered_at") if isinstance(data, dict) else None
    try:
        when = parse_moment(raw, "delivered_at") if raw else rt.clock()
    except Invalid as exc:
        return api_error(422, "invalid", exc.reason, exc.field)
    try:
        if refused_text(order_id) is not None or len(order_id) > MAX_ORDER_ID:
            raise LookupError(order_id)  # no order can have such an id
        inv = mark_delivered(rt, order_id, when)
    except LookupError:
        return api_error(404, "not_found", f"no purchase with order_id {order_id!r}")
    with rt.db.session() as s:
        s.add(inv)
        return jsonify(invitation_json(inv))


@bp.get("/invitations/<int:invitation_id>")
@require_api_key
def invitation(invitation_id: int) -> Any:
    rt = runtime()
    with rt.db.session() as s:
        inv = s.get(Invitation, invitation_id) if invitation_id <= MAX_ID else None
        if inv is None:
            return api_error(404, "not_found", f"no invitation {invitation_id}")
        body = invitation_json(inv)
    body["telegram_link"] = deep_link(rt, inv)  # it may ask the provider: after the transaction
    return jsonify(body)

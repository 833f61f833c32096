"""`/sandbox`: play a customer in the browser. Buy something, get the survey, answer it."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import datetime
from typing import Any

from flask import Blueprint, jsonify, render_template, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.storage.db import refused_text
from bot.storage.models import Contact, ContactChannel, Invitation, Message
from bot.survey.contacts import sandbox_address
from bot.survey.fields import Invalid
from bot.survey.purchases import parse_purchase, register_purchase
from bot.survey.rules import contact_zone
from bot.web.context import runtime
from channels import registry

(SANDBOX,) = registry.named(sandbox=True)  # the channel this page plays
bp = Blueprint("sandbox", __name__, url_prefix="/sandbox")


@bp.get("")
@bp.get("/")
def page() -> str:
    """The page; `?address=sandbox-…` opens that customer's phone (an API or CSV purchase's)."""
    try:
        address = sandbox_address(request.args.get("address") or "")
    except ValueError:
        address = None
    return render_template("sandbox.html", address=address)


def _bad(reason: str, field: str | None = None) -> Any:
    return jsonify(error="invalid", field=field, reason=reason), 422


def arrival(inv: Invitation, contact: Contact | None) -> dict[str, Any]:
    """When a scheduled survey will reach the phone, in the customer's own time."""
    tz = contact_zone(contact)
    local: datetime = inv.due_at.astimezone(tz)
    return {
        "due_at": inv.due_at.isoformat(),
        "due_local": local.strftime("%Y-%m-%d %H:%M"),
        "timezone": str(tz),
    }


@bp.post("/purchase")
def purchase() -> Any:
    """A pretend purchase on the sandbox channel: a new customer in the browser's time zone
    (`timezone`); the survey is due at once unless it asks for `delay_minutes` or
    `quiet_hours` (`bot.survey.rules.timing`)."""
    rt = runtime()
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return jsonify(error="bad_request", reason="body must be a JSON object"), 400
    for field in ("name", "survey", "item", "timezone"):
        refused = refused_text(str(data.get(field) or ""))
        if refused is not None:
            return _bad(refused, field)
    if not isinstance(data.get("quiet_hours", False), bool):
        return _bad("quiet_hours must be true or false", "quiet_hours")
    body = {
        "order_id": f"sandbox-{secrets.token_hex(6)}",
        "survey": data.get("survey") or None,
        "delay_minutes": data.get("delay_minutes"),
        "channels": [SANDBOX],
        "customer": {
            "name": str(data.get("name") or "Sandbox customer")[:200],
            "language": data.get("language", rt.settings.default_language),
            "timezone": data.get("timezone") or None,
        },
        "metadata": {"item": str(data.get("item", ""))[:100]},
    }
    try:
        wanted = replace(parse_purchase(body), quiet_hours=data.get("quiet_hours") or None)
        outcome = register_purchase(rt, wanted)
    except Invalid as exc:
        return _bad(exc.reason, exc.field.removeprefix("customer."))
    with rt.db.session() as s:
        inv = s.get(Invitation, outcome.invitation.id)
        assert inv is not None
        out = {
            "address": outcome.sandbox_address,
            "invitation_id": inv.id,
            "state": inv.state,
            "reason": inv.skip_reason,
            **arrival(inv, inv.contact),
        }
    return jsonify(out), 201


def customer(s: Session, address: str) -> ContactChannel | None:
    """The sandbox customer at `address` (their sandbox channel row); None if there is none."""
    if refused_text(address) is not None:
        return None
    return s.scalar(
        select(ContactChannel).where(
            ContactChannel.channel == SANDBOX, ContactChannel.address == address
        )
    )


@bp.get("/conversation/<address>")
def conversation(address: str) -> Any:
    rt = runtime()
    with rt.db.session() as s:
        cc = customer(s, address)
        if cc is None:
            return jsonify(error="not_found", reason="no such sandbox customer"), 404
        msgs = s.scalars(
            select(Message).where(Message.contact_id == cc.contact_id).order_by(Message.id)
        )
        out = [
            {
                "id": m.id,
                "direction": m.direction,
                "text": m.text,
                "status": m.status,
                "buttons": m.payload.get("buttons", []) if m.direction == "out" else [],
                "edit_of": m.payload.get("edit_of") if m.direction == "out" else None,
                "at": m.created_at.isoformat(),
            }
            for m in msgs
            if m.direction == "in" or m.status not in ("queued", "sending")
        ]
        inv = s.scalar(
            select(Invitation)
            .where(Invitation.contact_id == cc.contact_id)
            .order_by(Invitation.id.desc())
        )
        invitation = None
        if inv is not None:
            r = inv.response
            invitation = {
                "id": inv.id,
                "state": inv.state,
                "reason": inv.skip_reason,
                **arrival(inv, inv.contact),
                "response": None
                if r is None
                else {
                    "score": r.score,
                    "category": r.category,
                    "comment": r.comment,
                    "themes": r.themes,
                    "sentiment": r.sentiment,
                    "completed": r.completed_at is not None,
                },
            }
        return jsonify(messages=out, invitation=invitation, opted_out=cc.opted_out_at is not None)

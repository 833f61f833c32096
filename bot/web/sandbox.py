"""`/sandbox`: play a customer in the browser. Buy something, get the survey, answer it."""

from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, jsonify, render_template, request
from sqlalchemy import select

from bot.config import LANGUAGES
from bot.storage.db import refused_text
from bot.storage.models import Contact, ContactChannel, Invitation, Message
from bot.survey.contacts import ensure_channel
from bot.survey.purchases import create_invitation, survey_by_key
from bot.web.context import runtime
from channels import registry

(SANDBOX,) = registry.named(sandbox=True)  # the channel this page plays
bp = Blueprint("sandbox", __name__, url_prefix="/sandbox")


@bp.get("")
@bp.get("/")
def page() -> str:
    return render_template("sandbox.html")


def _bad(reason: str, field: str | None = None) -> Any:
    return jsonify(error="invalid", field=field, reason=reason), 422


@bp.post("/purchase")
def purchase() -> Any:
    """A pretend purchase: a new sandbox customer whose survey is due at once."""
    rt = runtime()
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return jsonify(error="bad_request", reason="body must be a JSON object"), 400
    for field in ("name", "survey", "item"):
        refused = refused_text(str(data.get(field) or ""))
        if refused is not None:
            return _bad(refused, field)
    name = str(data.get("name") or "Sandbox customer")[:200]
    language = data.get("language", rt.settings.default_language)
    if language not in LANGUAGES:
        return _bad(f"language must be one of {', '.join(LANGUAGES)}", "language")
    survey_key = str(data.get("survey") or rt.surveys[0].key)
    now = rt.clock()
    with rt.db.session_for_update() as s:  # it writes: SQLite's writer lock first
        survey = survey_by_key(s, survey_key)
        if survey is None:
            return _bad(f"unknown survey {survey_key!r}", "survey")
        contact = Contact(name=name, language=language, created_at=now)
        s.add(contact)
        s.flush()
        address = f"sandbox-{secrets.token_hex(6)}"
        ensure_channel(s, contact, SANDBOX, address)
        inv = create_invitation(
            s,
            survey,
            contact,
            now=now,
            delay_minutes=0,
            channels=[SANDBOX],
            order_id=f"sandbox-{secrets.token_hex(6)}",
            meta={"item": str(data.get("item", ""))[:100]},
        )
        inv_id = inv.id
    rt.wake.set()
    return jsonify(address=address, invitation_id=inv_id), 201


@bp.get("/conversation/<address>")
def conversation(address: str) -> Any:
    rt = runtime()
    if refused_text(address) is not None:
        return jsonify(error="not_found", reason="no such sandbox customer"), 404
    with rt.db.session() as s:
        cc = s.scalar(
            select(ContactChannel).where(
                ContactChannel.channel == SANDBOX, ContactChannel.address == address
            )
        )
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

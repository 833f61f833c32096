"""`/sandbox/staff/…`: the sandbox's pretend staff chat, beside its pretend phone.

For the sandbox customer being played it shows their case's card — the staff chat's own card
(`bot.staff.cards.card`: its text and its buttons) — and the case's thread; the card's buttons
act through `bot.staff.desk.act` and the reply box through `bot.staff.reply`, the dashboard's
paths. Only cases of sandbox customers (the response came on the sandbox channel), and only
while the sandbox is enabled: a dev tool, no log-in, like the phone.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.events import OutboxQueued
from bot.staff.cards import CODES, card, read_case_data
from bot.staff.cases import Actor, NotAllowed
from bot.staff.desk import act
from bot.staff.reply import Refused, reply_to_customer
from bot.storage.db import refused_text
from bot.storage.models import Case, CaseEvent, Message, Response, StaffRole
from bot.web.context import runtime
from bot.web.sandbox import SANDBOX, customer

bp = Blueprint("sandbox_staff", __name__, url_prefix="/sandbox/staff")
# Whoever plays the staff side of the sandbox: an agent (cases and replies), never an owner.
ACTOR = Actor(
    "sandbox:staff", "Sandbox staff", StaffRole.AGENT, audit="sandbox:staff", source="chat:sandbox"
)
REPLY_MAX = 4096  # what the sandbox phone takes in one message
NO_CASE = "no such case of a sandbox customer"


def _not_found(reason: str = NO_CASE) -> Any:
    return jsonify(error="not_found", reason=reason), 404


def _sandbox_case(s: Session, case_id: int) -> Case | None:
    """The case, if its customer answered on the sandbox channel; None otherwise."""
    return s.scalar(
        select(Case)
        .join(Response, Response.id == Case.response_id)
        .where(Case.id == case_id, Response.channel == SANDBOX)
    )


def _thread(s: Session, case: Case) -> list[dict[str, Any]]:
    """The customer's messages since the case opened, and the staff replies (with who wrote)."""
    staff = dict(
        s.execute(
            select(CaseEvent.message_id, CaseEvent.actor_name).where(
                CaseEvent.case_id == case.id,
                CaseEvent.kind == "staff_reply",
                CaseEvent.message_id.is_not(None),
            )
        ).all()
    )
    rows = s.scalars(
        select(Message)
        .where(
            Message.contact_id == case.contact_id,
            Message.channel == SANDBOX,
            Message.created_at >= case.created_at,
        )
        .order_by(Message.id)
    )
    return [
        {
            "id": m.id,
            "from": "customer" if m.direction == "in" else "staff",
            "author": staff.get(m.id),
            "text": m.text,
            "status": m.status,
            "at": m.created_at.isoformat(),
        }
        for m in rows
        if m.direction == "in" or m.id in staff
    ]


@bp.get("/<address>")
def chat(address: str) -> Any:
    """The staff chat as it stands for this customer: the card of their latest case (null when
    they have none: a promoter, say) and its thread."""
    rt = runtime()
    with rt.db.session() as s:
        cc = customer(s, address)
        if cc is None:
            return _not_found("no such sandbox customer")
        case = s.scalar(
            select(Case)
            .join(Response, Response.id == Case.response_id)
            .where(Case.contact_id == cc.contact_id, Response.channel == SANDBOX)
            .order_by(Case.id.desc())
        )
        shown = None if case is None else card(s, rt.settings, case.id, rt.clock())
        if case is None or shown is None:
            return jsonify(case=None, thread=[])
        return jsonify(
            case={
                "id": case.id,
                "status": case.status,
                "assignee": case.assignee,
                "outcome": case.outcome,
                "customer": cc.contact.name,
                "text": shown.text,
                "buttons": [
                    [{"label": b.label, "data": b.data} for b in row] for row in shown.buttons
                ],
            },
            thread=_thread(s, case),
        )


def _body() -> dict[str, Any] | None:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else None


@bp.post("/cases/<int:case_id>/tap")
def tap(case_id: int) -> Any:
    """A tap on one of the card's buttons (`{"data": …}`, as the card gave it)."""
    rt = runtime()
    with rt.db.session() as s:
        if _sandbox_case(s, case_id) is None:
            return _not_found()
    data = _body()
    if data is None:
        return jsonify(error="bad_request", reason="body must be a JSON object"), 400
    parsed = read_case_data(rt.settings.secret_key, str(data.get("data") or ""))
    if parsed is None or parsed[0] != case_id:
        return jsonify(error="invalid", field="data", reason="not a button of this card"), 422
    action, outcome = CODES[parsed[1]]
    try:
        done = act(rt, case_id, action, ACTOR, outcome)
    except LookupError:
        return _not_found()
    except NotAllowed as exc:
        # A stale card (resolved meanwhile, say): the next poll shows the card as it is.
        return jsonify(error="conflict", reason=str(exc)), 409
    return jsonify(status=done.status, assignee=done.assignee, outcome=done.outcome)


@bp.post("/cases/<int:case_id>/reply")
def reply(case_id: int) -> Any:
    """A staff reply (`{"text": …}`) to the customer, sent to their phone by the outbox."""
    rt = runtime()
    data = _body()
    with rt.db.session() as s:
        if _sandbox_case(s, case_id) is None:
            return _not_found()
    if data is None:
        return jsonify(error="bad_request", reason="body must be a JSON object"), 400
    text = data.get("text")
    if not isinstance(text, str) or not text.strip() or len(text) > REPLY_MAX:
        reason = f"`text` must be a message of 1 to {REPLY_MAX} characters"
        return jsonify(error="invalid", field="text", reason=reason), 422
    if (refused := refused_text(text)) is not None:
        return jsonify(error="invalid", field="text", reason=refused), 422
    try:
        with rt.db.session_for_update() as s:
            sent = reply_to_customer(s, rt.settings, case_id, ACTOR, text, rt.clock())
            if isinstance(sent, Refused):  # committed: the refusal is on the case's record
                return jsonify(error="refused", reason=sent.reason), 409
            queued = sent.id
    except LookupError:
        return _not_found()
    rt.bus.publish(OutboxQueued())  # wakes the dispatcher: it sends the reply after the commit
    return jsonify(message_id=queued, status="queued"), 202

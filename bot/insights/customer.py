"""One customer across channels: addresses and opt-outs, every survey sent and answered, cases.

The opt-out history comes from the customer's own STOP/START messages, read with the
conversation's keyword rule (`bot.survey.conversation.keyword`); an opt-out the provider
reported (no message) shows only in the channel's current state.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.storage.models import (
    Case,
    Contact,
    ContactChannel,
    Invitation,
    InvitationState,
    Message,
    Response,
    Survey,
)
from bot.survey import consent as consents
from bot.survey.conversation import Keyword, keyword

KEYWORD_LENGTH = 24  # longer than any STOP/START word with its punctuation


def opt_history(s: Session, contact_id: int) -> dict[str, list[tuple[datetime, bool]]]:
    """Per channel, the customer's STOP (True) and START (False) messages, oldest first."""
    rows = s.execute(
        select(Message.channel, Message.text, Message.created_at)
        .where(
            Message.contact_id == contact_id,
            Message.direction == "in",
            func.length(Message.text) <= KEYWORD_LENGTH,
        )
        .order_by(Message.created_at, Message.id)
    ).all()
    out: dict[str, list[tuple[datetime, bool]]] = {}
    for channel, text, at in rows:
        kw = keyword(text or "")
        if kw in (Keyword.STOP, Keyword.START):
            out.setdefault(channel, []).append((at, kw is Keyword.STOP))
    return out


def channels(s: Session, contact_id: int) -> list[dict[str, Any]]:
    """Each address with its state: opted out since when, opted in again when."""
    history = opt_history(s, contact_id)
    rows = s.scalars(
        select(ContactChannel)
        .where(ContactChannel.contact_id == contact_id)
        .order_by(ContactChannel.channel)
    )
    out = []
    for cc in rows:
        said = history.get(cc.channel, [])
        last_stop = max((at for at, stop in said if stop), default=None)
        starts = [at for at, stop in said if not stop and last_stop and at > last_stop]
        out.append(
            {
                "channel": cc.channel,
                "address": cc.address,
                "opted_out_at": cc.opted_out_at,
                # The START after the last STOP, while the channel is open again.
                "opted_in_at": starts[0] if starts and cc.opted_out_at is None else None,
                "unreachable_at": cc.unreachable_at,
                "unreachable_reason": cc.unreachable_reason,
                "history": said,
            }
        )
    return out


def consent(s: Session, contact_id: int) -> list[dict[str, Any]]:
    """Per channel, the consent in force and its history, newest first: when, how, the
    keyword or the business's words (`bot.survey.consent`)."""
    return [
        {
            "channel": channel,
            "given": rows[0].given,
            "at": rows[0].at,
            "history": [
                {"at": r.at, "given": r.given, "method": r.method, "source": r.source} for r in rows
            ],
        }
        for channel, rows in consents.history(s.connection(), contact_id).items()
    ]


def surveys(s: Session, contact_id: int) -> list[dict[str, Any]]:
    """Every invitation with its response (if any), newest first."""
    rows = s.execute(
        select(Invitation, Survey.key, Survey.name, Response)
        .join(Survey, Survey.id == Invitation.survey_id)
        .outerjoin(Response, Response.invitation_id == Invitation.id)
        .where(Invitation.contact_id == contact_id)
        .order_by(Invitation.created_at.desc(), Invitation.id.desc())
    ).all()
    out = []
    for inv, key, name, r in rows:
        expired = inv.state == InvitationState.EXPIRED
        out.append(
            {
                "id": inv.id,
                "survey": key,
                "survey_name": name,
                "channel": inv.channel,
                "state": inv.state,
                "order_id": inv.order_id,
                "created_at": inv.created_at,
                "sent_at": inv.sent_at,
                "answered_at": r.scored_at if r is not None else None,
                "expired_at": (inv.expires_at or inv.updated_at) if expired else None,
                "response": None
                if r is None
                else {
                    "id": r.id,
                    "score": r.score,
                    "category": r.category,
                    "comment": r.comment,
                    "themes": list(r.themes or []),
                    "channel": r.channel,
                    "late": r.late,
                },
            }
        )
    return out


def cases(s: Session, contact_id: int) -> list[dict[str, Any]]:
    """The customer's cases, newest first."""
    rows = s.execute(
        select(Case, Response.score, Response.category)
        .join(Response, Response.id == Case.response_id)
        .where(Case.contact_id == contact_id)
        .order_by(Case.created_at.desc(), Case.id.desc())
    ).all()
    return [
        {
            "id": c.id,
            "status": c.status,
            "outcome": c.outcome,
            "assignee": c.assignee,
            "created_at": c.created_at,
            "resolved_at": c.resolved_at,
            "score": score,
            "category": category,
        }
        for c, score, category in rows
    ]


def customer(s: Session, contact_id: int) -> dict[str, Any] | None:
    """Everything the customer page shows; None for an unknown id."""
    contact = s.get(Contact, contact_id)
    if contact is None:
        return None
    return {
        "id": contact.id,
        "name": contact.name,
        "external_id": contact.external_id,
        "language": contact.language,
        "timezone": contact.timezone,
        "created_at": contact.created_at,
        "channels": channels(s, contact_id),
        "consent": consent(s, contact_id),
        "surveys": surveys(s, contact_id),
        "cases": cases(s, contact_id),
    }

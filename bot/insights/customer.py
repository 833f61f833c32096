"""One customer across channels: addresses with their state now, the consent per channel with
its history (every opt-out and opt-in again, with its keyword: `bot.survey.optout`), every
survey sent and answered, cases.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.storage.models import (
    Case,
    Contact,
    ContactChannel,
    Invitation,
    InvitationState,
    Response,
    Survey,
)
from bot.survey import consent as consents


def channels(s: Session, contact_id: int) -> list[dict[str, Any]]:
    """Each address with its state now: opted out since when, unreachable since when (the
    history of opting out and in again is the consent's)."""
    rows = s.scalars(
        select(ContactChannel)
        .where(ContactChannel.contact_id == contact_id)
        .order_by(ContactChannel.channel)
    )
    return [
        {
            "channel": cc.channel,
            "address": cc.address,
            "opted_out_at": cc.opted_out_at,
            "unreachable_at": cc.unreachable_at,
            "unreachable_reason": cc.unreachable_reason,
        }
        for cc in rows
    ]


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

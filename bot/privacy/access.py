"""Access and portability: everything npsbot holds about one person, as one JSON document
(`GET /api/v1/contacts/{id}/export`, `npsbot contacts export ID`). The schema is documented in
docs/privacy.md and versioned by FORMAT: a change that removes or renames a field is /2."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.storage import audit
from bot.storage.models import (
    AuditEvent,
    Case,
    CaseEvent,
    Consent,
    Contact,
    ContactChannel,
    Invitation,
    Message,
    Response,
    Survey,
)

FORMAT = "npsbot.contact-export/1"
# A case event's text is exported for the conversation with the customer; the others' texts
# are npsbot's own bookkeeping (alert destinations, a refused draft that never left).
SAID = ("staff_reply", "customer_reply")


class NotFound(LookupError):
    """No contact with that id."""


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def build(s: Session, contact: Contact, *, show_staff_names: bool, now: datetime) -> dict[str, Any]:
    """The export document of `contact` (format FORMAT)."""
    cid = contact.id
    channels = s.scalars(
        select(ContactChannel).where(ContactChannel.contact_id == cid).order_by(ContactChannel.id)
    )
    consents = s.scalars(
        select(Consent).where(Consent.contact_id == cid).order_by(Consent.at, Consent.id)
    )
    invitations = s.execute(
        select(Invitation, Survey.key)
        .join(Survey, Survey.id == Invitation.survey_id)
        .where(Invitation.contact_id == cid)
        .order_by(Invitation.id)
    )
    responses = s.execute(
        select(Response, Survey.key)
        .join(Survey, Survey.id == Response.survey_id)
        .where(Response.contact_id == cid)
        .order_by(Response.id)
    )
    messages = s.scalars(select(Message).where(Message.contact_id == cid).order_by(Message.id))
    cases = list(s.scalars(select(Case).where(Case.contact_id == cid).order_by(Case.id)))
    events: dict[int, list[CaseEvent]] = {c.id: [] for c in cases}
    for e in s.scalars(
        select(CaseEvent)
        .where(CaseEvent.case_id.in_(list(events)))
        .order_by(CaseEvent.at, CaseEvent.id)
    ):
        events[e.case_id].append(e)
    trail = s.scalars(
        select(AuditEvent)
        .where(AuditEvent.target == f"contact:{cid}")
        .order_by(AuditEvent.at, AuditEvent.id)
    )
    return {
        "format": FORMAT,
        "exported_at": _iso(now),
        "contact": {
            "id": contact.external_id,
            "name": contact.name,
            "phone": contact.phone,
            "telegram_chat_id": contact.telegram_chat_id,
            "language": contact.language,
            "timezone": contact.timezone,
            "attributes": dict(sorted((contact.attributes or {}).items())),
            "created_at": _iso(contact.created_at),
            "updated_at": _iso(contact.updated_at),
        },
        "channels": [
            {
                "channel": cc.channel,
                "address": cc.address,
                "opted_out_at": _iso(cc.opted_out_at),
                "unreachable_at": _iso(cc.unreachable_at),
                "unreachable_reason": cc.unreachable_reason,
                "last_message_at": _iso(cc.last_inbound_at),
            }
            for cc in channels
        ],
        "consents": [
            {
                "channel": c.channel,
                "given": c.given,
                "method": c.method,
                "source": c.source,
                "at": _iso(c.at),
                "recorded_at": _iso(c.recorded_at),
            }
            for c in consents
        ],
        "invitations": [
            {
                "id": inv.id,
                "order_id": inv.order_id,
                "survey": key,
                "state": inv.state,
                "skip_reason": inv.skip_reason,
                "channel": inv.channel,
                "channels": list(inv.channels),
                "language": inv.language,
                "metadata": inv.meta,
                "occurred_at": _iso(inv.occurred_at),
                "due_at": _iso(inv.due_at),
                "sent_at": _iso(inv.sent_at),
                "reminded_at": _iso(inv.reminded_at),
                "expires_at": _iso(inv.expires_at),
                "created_at": _iso(inv.created_at),
            }
            for inv, key in invitations
        ],
        "responses": [
            {
                "invitation_id": r.invitation_id,
                "survey": key,
                "channel": r.channel,
                "score": r.score,
                "category": r.category,
                "comment": r.comment,
                "themes": list(r.themes),
                "sentiment": r.sentiment,
                "late": r.late,
                "scored_at": _iso(r.scored_at),
                "commented_at": _iso(r.commented_at),
                "completed_at": _iso(r.completed_at),
            }
            for r, key in responses
        ],
        "messages": [
            {
                "id": m.id,
                "channel": m.channel,
                "direction": m.direction,
                "address": m.address,
                "kind": m.kind,
                "text": m.text,
                "status": m.status,
                "invitation_id": m.invitation_id,
                "created_at": _iso(m.created_at),
                "status_at": _iso(m.status_at),
            }
            for m in messages
        ],
        "cases": [
            {
                "id": c.id,
                "status": c.status,
                "outcome": c.outcome,
                "created_at": _iso(c.created_at),
                "taken_at": _iso(c.taken_at),
                "resolved_at": _iso(c.resolved_at),
                "reopened_at": _iso(c.reopened_at),
                "events": [_event(e, show_staff_names) for e in events[c.id]],
            }
            for c in cases
        ],
        # Who acted on this person's data; staff are named by the kind of access only
        # ("dashboard", "api", "cli", "customer", "retention"), as the customer never sees them.
        "audit": [
            {
                "at": _iso(a.at),
                "actor": a.actor.partition(":")[0],
                "action": a.action,
                "detail": a.detail,
            }
            for a in trail
        ],
    }


def _event(e: CaseEvent, show_staff_names: bool) -> dict[str, Any]:
    staff = None
    # The name as the customer saw it: the reply's signature (STAFF_SHOW_NAMES), else none.
    if e.kind == "staff_reply" and show_staff_names and e.actor_name:
        staff = e.actor_name.split()[0]
    return {
        "kind": e.kind,
        "at": _iso(e.at),
        "staff": staff,
        "text": e.text if e.kind in SAID else None,
        "note": e.note,
    }


def export_contact(
    s: Session,
    external_id: str,
    *,
    at: datetime,
    actor: str,
    source: str | None,
    show_staff_names: bool,
) -> dict[str, Any]:
    """The export of the contact the business knows as `external_id`, audited
    ("contact.export") in the caller's writing transaction. NotFound: no such contact."""
    contact = s.scalar(select(Contact).where(Contact.external_id == external_id))
    if contact is None:
        raise NotFound(external_id)
    doc = build(s, contact, show_staff_names=show_staff_names, now=at)
    audit.record(
        s,
        at=at,
        actor=actor,
        action="contact.export",
        target=f"contact:{contact.id}",
        source=source,
    )
    return doc

"""The follow-up of detractors: cases, what happened on them, and the staff alerts."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.models.base import Base, Id, utcnow


class CaseStatus(enum.StrEnum):
    OPEN = "open"
    TAKEN = "taken"
    RESOLVED = "resolved"


class Case(Base):
    """The follow-up of a detractor by staff."""

    __tablename__ = "cases"
    # Every inbound message outside a survey asks "does this customer have an open case?".
    __table_args__ = (Index("ix_cases_contact_id_status", "contact_id", "status"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    response_id: Mapped[int] = mapped_column(
        ForeignKey("responses.id", ondelete="CASCADE"), unique=True
    )
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(10), default=CaseStatus.OPEN, index=True)
    assignee: Mapped[str | None] = mapped_column(String(128))
    # The staff member's Telegram user id (`assignee` is the name shown on the card).
    assignee_id: Mapped[str | None] = mapped_column(String(32))
    outcome: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    alerted_at: Mapped[datetime | None]  # the first alert reached a destination
    taken_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    reopened_at: Mapped[datetime | None]


# The dashboard's oldest open cases: one short index scan per status, not a sort of all of them.
Index("ix_cases_status_created_at", Case.status, Case.created_at, Case.id)


class AlertState(enum.StrEnum):
    PENDING = "pending"  # due at next_attempt_at
    SENDING = "sending"  # claimed under a lease; an expired lease makes it pending again
    SENT = "sent"
    FAILED = "failed"  # gave up (last_error tells why)


class Alert(Base):
    """One staff notification to one destination: a queue row, sent at least once.

    `destination` is "telegram:<chat id>" or "url:<sha256 of the URL, 16 hex>" (notification URLs
    carry secrets and stay in the settings); `kind` is "alert", "escalate_take",
    "escalate_resolve" or "digest:<period>:<first day>" (digests have no case)."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("case_id", "destination", "kind"),
        Index("ix_alerts_state_next_attempt_at", "state", "next_attempt_at"),
        Index("ix_alerts_destination_sent_at", "destination", "sent_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    destination: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(10), default=AlertState.PENDING)
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    provider_id: Mapped[str | None] = mapped_column(String(128), index=True)
    last_error: Mapped[str | None] = mapped_column(String(300))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)  # a digest's text
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class CaseEvent(Base):
    """What happened on a case, in order: alerted, taken, staff and customer messages, resolved."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[str | None] = mapped_column(String(32))
    actor_name: Mapped[str | None] = mapped_column(String(128))
    text: Mapped[str | None] = mapped_column(Text)
    # Staff's note on a resolution or an outcome (0012): what came of it, "other" needs one.
    note: Mapped[str | None] = mapped_column(Text)
    # The message this event sent or relayed (staff chat thread lookups go through it).
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), index=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)

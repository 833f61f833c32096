"""Surveys, the invitations sent for them, and the responses."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.storage.models.base import Base, Id, utcnow
from bot.storage.models.contacts import Contact


class InvitationState(enum.StrEnum):
    """Where one survey invitation is."""

    SCHEDULED = "scheduled"  # waiting for due_at
    SENDING = "sending"  # claimed by a worker under a lease
    UNKNOWN = "unknown"  # a lease expired mid-send: maybe sent; an operator decides
    ASKED = "asked"  # question delivered to the provider, awaiting the score
    AWAITING_REASON = "awaiting_reason"  # score stored, awaiting the "why"
    COMPLETED = "completed"
    UNANSWERED = "unanswered"  # no usable score after the re-asks: closed politely
    EXPIRED = "expired"  # no answer before expiry
    OPTED_OUT = "opted_out"  # the customer said STOP while it was open
    SKIPPED = "skipped"  # a rule said no (skip_reason tells which)
    FAILED = "failed"  # no channel could deliver it (last_error tells why)


OPEN_STATES = (InvitationState.ASKED, InvitationState.AWAITING_REASON)


class Survey(Base):
    """A named touchpoint: edited by owners in the dashboard or by `npsbot surveys import`."""

    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # {"es": {"question": "...", ...}, ...}: overrides of the default catalog texts.
    texts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    delay_minutes: Mapped[int] = mapped_column(Integer, default=120)
    resurvey_days: Mapped[int] = mapped_column(Integer, default=30)
    reminder_hours: Mapped[int | None] = mapped_column(Integer)
    expiry_hours: Mapped[int] = mapped_column(Integer, default=72)
    channels: Mapped[list[str]] = mapped_column(default=list)
    # Everything else the survey file says (quiet hours, templates, alert rules, links).
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Who made the last change: "dashboard:<user>" or "cli:import" (0014).
    updated_by: Mapped[str | None] = mapped_column(String(200))


class Invitation(Base):
    """One survey for one contact after one trigger (a purchase)."""

    __tablename__ = "invitations"
    __table_args__ = (
        # The dispatcher's claim query: due work by state and time.
        Index("ix_invitations_state_due_at", "state", "due_at"),
        Index("ix_invitations_contact_id_state", "contact_id", "state"),
        # Partial (0007): the tokens are few, and every rewrite of an invitation (two per survey
        # sent) would otherwise add a NULL entry to this index too.
        Index(
            "uq_invitations_link_token",
            "link_token",
            unique=True,
            postgresql_where=sql_text("link_token IS NOT NULL"),
            sqlite_where=sql_text("link_token IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"))
    # NULL once the customer is erased (0018): the anonymous score and its send stay.
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    order_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    # Hash of the request that created it: the same order with another body is a conflict.
    request_hash: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(20), default=InvitationState.SCHEDULED)
    language: Mapped[str] = mapped_column(String(8))
    channels: Mapped[list[str]] = mapped_column(default=list)  # the order to try
    channel: Mapped[str | None] = mapped_column(String(32))  # the one it went out on
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    last_error: Mapped[str | None] = mapped_column(String(300))
    skip_reason: Mapped[str | None] = mapped_column(String(64))
    sent_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    # Unusable replies so far: after the second re-ask the survey closes politely.
    reasks: Mapped[int] = mapped_column(SmallInteger, default=0)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    # Telegram onboarding: the single-use, expiring deep-link payload (t.me/<bot>?start=<token>).
    # Unique where set (`uq_invitations_link_token`, partial: most invitations have none).
    link_token: Mapped[str | None] = mapped_column(String(64))
    link_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    survey: Mapped[Survey] = relationship()
    contact: Mapped[Contact | None] = relationship()
    response: Mapped[Response | None] = relationship(back_populates="invitation")


class ProgramRun(Base):
    """A relational survey's day, claimed by the one worker that plans it (0016): unique per
    (survey, day), so two workers never invite the same day twice."""

    __tablename__ = "program_runs"
    __table_args__ = (UniqueConstraint("survey_id", "day"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    invited: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Response(Base):
    __tablename__ = "responses"
    __table_args__ = (Index("ix_responses_survey_id_scored_at", "survey_id", "scored_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    invitation_id: Mapped[int] = mapped_column(
        ForeignKey("invitations.id", ondelete="CASCADE"), unique=True
    )
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"))
    # NULL once the customer is erased (0018): the anonymous score and its send stay.
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(32))
    score: Mapped[int] = mapped_column(SmallInteger)
    category: Mapped[str] = mapped_column(String(10))
    comment: Mapped[str | None] = mapped_column(Text)
    themes: Mapped[list[str]] = mapped_column(default=list)
    sentiment: Mapped[float | None] = mapped_column(Float)
    comment_language: Mapped[str | None] = mapped_column(String(8))
    contradiction: Mapped[bool] = mapped_column(Boolean, default=False)
    late: Mapped[bool] = mapped_column(Boolean, default=False)  # came after the survey expired
    scored_at: Mapped[datetime] = mapped_column(default=utcnow)
    commented_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    # When it last changed (score corrected, comment and themes added): the rollup rebuilds its
    # day. Nullable: rows from before migration 0006 have none, and adding a nullable column
    # does not rewrite the table.
    updated_at: Mapped[datetime | None] = mapped_column(default=utcnow, onupdate=utcnow)

    invitation: Mapped[Invitation] = relationship(back_populates="response")


# Insights (reports and dashboard) read responses by time and invitations by send time. On
# PostgreSQL the two time indexes carry the grouped columns (INCLUDE), so the aggregates over a
# million rows are index-only scans; the GIN index serves metadata filters (`metadata @> {…}`).
Index(
    "ix_responses_scored_at_id",
    Response.scored_at,
    Response.id,
    postgresql_include=["score", "category", "channel", "survey_id"],
)
Index(
    "ix_invitations_sent_at",
    Invitation.sent_at,
    postgresql_include=["state", "channel", "survey_id", "language"],
)
Index("ix_responses_late", Response.late)  # the few late answers, for response rates
Index(
    "ix_invitations_metadata_gin",
    Invitation.meta,
    postgresql_using="gin",
    postgresql_ops={"metadata": "jsonb_path_ops"},
)

# Which changed rows the rollup has not seen yet (responses, and invitations whose state moved).
Index("ix_responses_updated_at", Response.updated_at)
Index("ix_invitations_updated_at", Invitation.updated_at)

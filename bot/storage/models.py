"""The whole data model: typed SQLAlchemy 2 models in one module.

Migrations in `migrations/` must produce exactly this schema (a test runs autogenerate against a
migrated database on SQLite and PostgreSQL and expects no difference).
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy import text as sql_text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Explicit constraint names keep migrations identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps are stored in UTC and always come back timezone-aware (SQLite drops tzinfo)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: npsbot stores timezone-aware UTC timestamps only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# JSONB on PostgreSQL (indexable metadata filters), JSON text elsewhere.
Json = JSON().with_variant(JSONB(), "postgresql")
# 64-bit ids on PostgreSQL; SQLite's rowid alias must be declared INTEGER.
Id = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: Json,
        list[str]: Json,
    }


class InvitationState(enum.StrEnum):
    """Where one survey invitation is. Allowed moves are in `bot.states.TRANSITIONS`."""

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


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(20), index=True)  # E.164
    telegram_chat_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    language: Mapped[str] = mapped_column(String(8))
    timezone: Mapped[str | None] = mapped_column(String(64))  # IANA
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    channels: Mapped[list[ContactChannel]] = relationship(back_populates="contact")


class ContactChannel(Base):
    """A contact's address and state on one channel: opt-out, reachability, session window."""

    __tablename__ = "contact_channels"
    __table_args__ = (
        UniqueConstraint("channel", "address"),
        UniqueConstraint("contact_id", "channel"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(32))
    address: Mapped[str] = mapped_column(String(64))
    opted_out_at: Mapped[datetime | None]
    unreachable_at: Mapped[datetime | None]
    unreachable_reason: Mapped[str | None] = mapped_column(String(200))
    # The customer's last message opens the provider's free-form window (WhatsApp: 24 h).
    last_inbound_at: Mapped[datetime | None]

    contact: Mapped[Contact] = relationship(back_populates="channels")


class Survey(Base):
    """A named touchpoint; defined in the surveys file and synced here at start."""

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
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
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
    contact: Mapped[Contact] = relationship()
    response: Mapped[Response | None] = relationship(back_populates="invitation")


class Response(Base):
    __tablename__ = "responses"
    __table_args__ = (Index("ix_responses_survey_id_scored_at", "survey_id", "scored_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    invitation_id: Mapped[int] = mapped_column(
        ForeignKey("invitations.id", ondelete="CASCADE"), unique=True
    )
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
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

    invitation: Mapped[Invitation] = relationship(back_populates="response")


class Message(Base):
    """Every message in and out; the unique provider id per channel makes webhooks idempotent."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("channel", "direction", "provider_id"),
        # The outbox: outbound replies waiting to be sent (`queued`) or being sent (`sending`,
        # swept to `unknown`), both without a provider id until the provider accepts them.
        # Partial (0007): messages with a provider id (sent or received: most of them, and
        # every survey's question row) are not in it. A predicate on `status` would need the
        # queries' constants, which a generic plan of a prepared statement does not know.
        Index(
            "ix_messages_direction_status",
            "direction",
            "status",
            postgresql_where=sql_text("provider_id IS NULL"),
            sqlite_where=sql_text("provider_id IS NULL"),
        ),
        # The replies to an inbound message (redeliveries get the same answer); partial (0007):
        # most messages answer none.
        Index(
            "ix_messages_in_reply_to_id",
            "in_reply_to_id",
            postgresql_where=sql_text("in_reply_to_id IS NOT NULL"),
            sqlite_where=sql_text("in_reply_to_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    provider_id: Mapped[str | None] = mapped_column(String(128))
    address: Mapped[str] = mapped_column(String(64))
    # No foreign keys on the contact and the invitation (0007): each one was a lookup and a row
    # lock on the contact or invitation for every message written, a third of the cost of a
    # survey's question row. npsbot deletes neither contacts nor invitations; the ids are
    # written by npsbot alone, from rows it has just read.
    contact_id: Mapped[int | None] = mapped_column(Id, index=True)
    invitation_id: Mapped[int | None] = mapped_column(Id, index=True)
    # An outbound reply points at the inbound message it answers (redeliveries get the same answer).
    in_reply_to_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(String(20), default="text")  # text|question|reply|…
    text: Mapped[str] = mapped_column(Text, default="")
    # The normalised outbound message (buttons, template…) for the outbox sender.
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str | None] = mapped_column(String(12))
    error_code: Mapped[str | None] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    next_attempt_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    status_at: Mapped[datetime | None]


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


class ApiKey(Base):
    """A business's key to the API; only its SHA-256 is stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))  # shown in listings to tell keys apart
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


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
    # The message this event sent or relayed (staff chat thread lookups go through it).
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), index=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)


class StaffRole(enum.StrEnum):
    STAFF = "staff"  # sees the dashboard and acts on cases
    READONLY = "readonly"  # sees everything, acts on nothing


class StaffUser(Base):
    """A person who logs in to the dashboard; only a scrypt hash of the password is stored."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(10), default=StaffRole.STAFF)
    # Failed log-ins in a row; at the limit the account is locked until `locked_until`.
    failed_logins: Mapped[int] = mapped_column(SmallInteger, default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]


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


# --- Insights rollup (migration 0006) -----------------------------------------------------------
# Daily counts that the reports read instead of a million responses (see `bot.insights`, section
# "rollup"). Days are UTC days. Rows are rebuilt per day from the raw tables by
# `bot.insights.refresh_rollup`; a day whose rows changed after the last refresh (the
# `updated_at` markers below) is read from the raw tables until it is rebuilt.

# When a response last changed (score corrected, comment and themes added). Nullable: rows from
# before migration 0006 have none, and adding a nullable column does not rewrite the table.
Response.updated_at = mapped_column(UTCDateTime(), nullable=True, default=utcnow, onupdate=utcnow)
# Which changed rows the rollup has not seen yet (responses, and invitations whose state moved).
Index("ix_responses_updated_at", Response.__table__.c.updated_at)
Index("ix_invitations_updated_at", Invitation.updated_at)
# The dashboard's oldest open cases: one short index scan per status, not a sort of all of them.
Index("ix_cases_status_created_at", Case.status, Case.created_at, Case.id)


class RollupState(Base):
    """One row (id 1): how far the rollup goes and which changes it has seen."""

    __tablename__ = "insights_rollup_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Days before this one (UTC) are in the rollup tables; later ones are read raw.
    upto: Mapped[date | None] = mapped_column(Date)
    # Rows changed at or after this moment may be missing from the rollup: their days are read raw.
    checked_at: Mapped[datetime | None]
    refreshed_at: Mapped[datetime | None]


class _Counts:
    """The dimensions every rollup has (as in `responses` and `invitations`)."""

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    survey_id: Mapped[int] = mapped_column(Id)
    channel: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8))


class _Store:
    """The purchase metadata's "store" as the reports read it (`metadata ->> 'store'`); the
    flag says whether a `store=` filter can match it (on PostgreSQL: JSON strings only)."""

    store: Mapped[str | None] = mapped_column(Text)
    store_is_text: Mapped[bool] = mapped_column(Boolean)


class NpsDay(_Counts, Base):
    """Responses per UTC day (of `scored_at`), survey, channel, language and score."""

    __tablename__ = "nps_daily"

    score: Mapped[int] = mapped_column(SmallInteger)
    responses: Mapped[int] = mapped_column(Integer)


class NpsStoreDay(_Counts, _Store, Base):
    """`nps_daily` split by store: read when a report filters on the store."""

    __tablename__ = "nps_daily_store"
    __table_args__ = (Index("ix_nps_daily_store_store_day", "store", "day"),)

    score: Mapped[int] = mapped_column(SmallInteger)
    responses: Mapped[int] = mapped_column(Integer)


class NpsStoreMonth(_Counts, _Store, Base):
    """`nps_daily_store` summed per month (`day` is the 1st): the breakdown by store over long
    periods reads months, not days."""

    __tablename__ = "nps_monthly_store"

    score: Mapped[int] = mapped_column(SmallInteger)
    responses: Mapped[int] = mapped_column(Integer)


class ThemeDay(_Counts, Base):
    """Theme mentions per UTC day, survey, channel, language, theme and score."""

    __tablename__ = "themes_daily"

    theme: Mapped[str] = mapped_column(Text)
    score: Mapped[int] = mapped_column(SmallInteger)
    mentions: Mapped[int] = mapped_column(Integer)


class ThemeStoreDay(_Counts, _Store, Base):
    __tablename__ = "themes_daily_store"
    __table_args__ = (Index("ix_themes_daily_store_store_day", "store", "day"),)

    theme: Mapped[str] = mapped_column(Text)
    score: Mapped[int] = mapped_column(SmallInteger)
    mentions: Mapped[int] = mapped_column(Integer)


class RateDay(_Counts, Base):
    """Invitations delivered and answered per UTC day of `sent_at` (the response rate)."""

    __tablename__ = "rates_daily"

    delivered: Mapped[int] = mapped_column(Integer)
    answered: Mapped[int] = mapped_column(Integer)


class RateStoreDay(_Counts, _Store, Base):
    __tablename__ = "rates_daily_store"
    __table_args__ = (Index("ix_rates_daily_store_store_day", "store", "day"),)

    delivered: Mapped[int] = mapped_column(Integer)
    answered: Mapped[int] = mapped_column(Integer)

"""Every message in and out (the outbox included)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.models.base import Base, Id, utcnow


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
    # Foreign keys (0008): a message holds a customer's text and number, so it never names a
    # contact or an invitation that does not exist.
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    invitation_id: Mapped[int | None] = mapped_column(
        ForeignKey("invitations.id", ondelete="SET NULL"), index=True
    )
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
    # A claimed reply's lease (0009): past it, a `sending` row is swept to `unknown`.
    lease_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    status_at: Mapped[datetime | None]

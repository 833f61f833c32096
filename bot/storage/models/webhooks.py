"""Outbound webhooks (issue 21): who listens, what happened, and each delivery's queue row.

An event row and its deliveries are written in the transaction of the change they announce
(`bot.storage.hooks.emit`, a transactional outbox): an event exists iff its change committed.
The worker (`scheduler.webhooks`) delivers them at least once, signed per Standard Webhooks.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.models.base import Base, Id, utcnow


class WebhookSubscription(Base):
    """An endpoint of the business's and the event types it wants.

    Secrets are "whsec_<base64>" (the spec's format); after a rotation the previous one still
    signs too until `previous_expires_at`, so the receiver can switch without losing a call."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(String(200))
    event_types: Mapped[list[str]] = mapped_column(default=list)
    secret: Mapped[str] = mapped_column(String(100))
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    # The first failed attempt since the last success: a day of failures disables the endpoint.
    failing_since: Mapped[datetime | None]


class WebhookEvent(Base):
    """Something that happened, once, whatever the number of subscribers: `id` is the
    `webhook-id` every delivery and retry of it carries (the receiver's dedupe key)."""

    __tablename__ = "webhook_events"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # "evt_<26 base32>"
    type: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(index=True)
    # The contact whose events are delivered in order (no foreign key: an erased contact's
    # "contact.erased" outlives its row).
    contact_key: Mapped[int | None] = mapped_column(Id)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)


class DeliveryState(enum.StrEnum):
    PENDING = "pending"  # due at next_attempt_at
    SENDING = "sending"  # claimed under a lease; an expired lease makes it pending again
    DELIVERED = "delivered"  # a 2xx
    FAILED = "failed"  # gave up: attempts spent, a 410, or the endpoint was removed


class WebhookDelivery(Base):
    """One event to one subscription: a queue row and its log (status, latency, error)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id"),
        Index("ix_webhook_deliveries_state_next_attempt_at", "state", "next_attempt_at"),
        # Per-contact order: an earlier undelivered event of the contact holds the later ones.
        Index(
            "ix_webhook_deliveries_subscription_id_contact_key", "subscription_id", "contact_key"
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)  # increasing: the order of emission
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE")
    )
    event_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_events.id", ondelete="CASCADE"), index=True
    )
    contact_key: Mapped[int | None] = mapped_column(Id)
    state: Mapped[str] = mapped_column(String(10), default=DeliveryState.PENDING)
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    last_status: Mapped[int | None] = mapped_column(SmallInteger)  # the HTTP status code
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    last_attempt_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]

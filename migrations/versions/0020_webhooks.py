"""Outbound webhooks: subscriptions, events and their deliveries.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02 16:00:00

npsbot calls the business back (issue 21): an event row per change, written in the change's own
transaction, and a delivery row per subscription, which the worker signs and sends (Standard
Webhooks), retries, logs and may replay.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", Id, primary_key=True),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("description", sa.String(200), nullable=True),
        sa.Column("event_types", Json, nullable=False),
        sa.Column("secret", sa.String(100), nullable=False),
        sa.Column("previous_secret", sa.String(100), nullable=True),
        sa.Column("previous_expires_at", When, nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.Column("disabled_at", When, nullable=True),
        sa.Column("disabled_reason", sa.String(200), nullable=True),
        sa.Column("failing_since", When, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_subscriptions"),
    )
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("at", When, nullable=False),
        sa.Column("contact_key", Id, nullable=True),
        sa.Column("payload", Json, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_events"),
    )
    op.create_index("ix_webhook_events_at", "webhook_events", ["at"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "subscription_id",
            Id,
            sa.ForeignKey(
                "webhook_subscriptions.id",
                ondelete="CASCADE",
                name="fk_webhook_deliveries_subscription_id_webhook_subscriptions",
            ),
            nullable=False,
        ),
        sa.Column(
            "event_id",
            sa.String(40),
            sa.ForeignKey(
                "webhook_events.id",
                ondelete="CASCADE",
                name="fk_webhook_deliveries_event_id_webhook_events",
            ),
            nullable=False,
        ),
        sa.Column("contact_key", Id, nullable=True),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("attempts", sa.SmallInteger(), nullable=False),
        sa.Column("next_attempt_at", When, nullable=False),
        sa.Column("lease_until", When, nullable=True),
        sa.Column("last_status", sa.SmallInteger(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(300), nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.Column("last_attempt_at", When, nullable=True),
        sa.Column("delivered_at", When, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_deliveries"),
        sa.UniqueConstraint(
            "subscription_id", "event_id", name="uq_webhook_deliveries_subscription_id_event_id"
        ),
    )
    op.create_index(
        "ix_webhook_deliveries_state_next_attempt_at",
        "webhook_deliveries",
        ["state", "next_attempt_at"],
    )
    op.create_index(
        "ix_webhook_deliveries_subscription_id_contact_key",
        "webhook_deliveries",
        ["subscription_id", "contact_key"],
    )
    op.create_index("ix_webhook_deliveries_event_id", "webhook_deliveries", ["event_id"])
    op.create_index("ix_webhook_deliveries_created_at", "webhook_deliveries", ["created_at"])


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_events")
    op.drop_table("webhook_subscriptions")

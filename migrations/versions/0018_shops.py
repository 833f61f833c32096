"""Shops that trigger surveys: their configuration and the order events they sent.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 16:00:00

`shops` holds each shop's webhook secret (needed to verify signatures: treat the database as
holding secrets) and, for Tiendanube, the store's API token. `shop_events` is the dedupe and
persist-before-answer record of their order webhooks (issue 21).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "shops",
        sa.Column("id", Id, primary_key=True),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("secret", sa.String(length=200), nullable=False),
        sa.Column("survey", sa.String(length=64), nullable=True),
        sa.Column("topics", Json, nullable=False),
        sa.Column("store_id", sa.String(length=32), nullable=True),
        sa.Column("access_token", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_shops"),
        sa.UniqueConstraint("key", name="uq_shops_key"),
    )
    op.create_table(
        "shop_events",
        sa.Column("id", Id, primary_key=True),
        sa.Column("shop_key", sa.String(length=64), nullable=False),
        sa.Column("delivery_id", sa.String(length=128), nullable=False),
        sa.Column("topic", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=128), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("invitation_id", Id, nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_shop_events"),
        sa.UniqueConstraint("shop_key", "delivery_id", name="uq_shop_events_shop_key_delivery_id"),
    )


def downgrade() -> None:
    op.drop_table("shop_events")
    op.drop_table("shops")

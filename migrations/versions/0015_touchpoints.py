"""Touchpoints: a survey's named entries (a store, a receipt) with fixed metadata and a code.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 12:50:00

A customer who sends a touchpoint's code (or opens its Telegram deep link) gets its survey at
once; the invitation carries the touchpoint's metadata and "touchpoint": key.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "touchpoints",
        sa.Column("id", Id, primary_key=True),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column(
            "survey_id",
            Id,
            sa.ForeignKey("surveys.id", name="fk_touchpoints_survey_id_surveys"),
            nullable=False,
        ),
        sa.Column("metadata", Json, nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("window_hours", sa.Integer(), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_touchpoints"),
        sa.UniqueConstraint("key", name="uq_touchpoints_key"),
        sa.UniqueConstraint("code", name="uq_touchpoints_code"),
    )


def downgrade() -> None:
    op.drop_table("touchpoints")

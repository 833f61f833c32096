"""Relational programs: one claimed row per relational survey and day.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 13:00:00

A relational survey's audience, cadence and daily cap live in its options (no column); the
worker claims each survey's day here, unique per (survey, day), so two workers never plan the
same day twice.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "program_runs",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "survey_id",
            Id,
            sa.ForeignKey("surveys.id", ondelete="CASCADE", name="fk_program_runs_survey_id_surveys"),
            nullable=False,
        ),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("invited", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_program_runs"),
        sa.UniqueConstraint("survey_id", "day", name="uq_program_runs_survey_id_day"),
    )


def downgrade() -> None:
    op.drop_table("program_runs")

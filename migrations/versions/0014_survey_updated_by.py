"""Surveys record who changed them last (dashboard user or `npsbot surveys import`).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 12:30:00

Owners now edit surveys in the dashboard; issue 20 will add a full audit trail.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("surveys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("updated_by", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("surveys", schema=None) as batch_op:
        batch_op.drop_column("updated_by")

"""A case event's note: what came of a resolution, in staff's words.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 12:30:00

The outcome "other" needs a note saying what came of it, and any outcome may carry one. The
event's `text` keeps the outcome itself, so a resolution stays one event.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("note", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.drop_column("note")

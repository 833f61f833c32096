"""Merge the insights (0003) and staff (0004) branches; index cases by contact and status.

Revision ID: 0005
Revises: 0003, 0004
Create Date: 2026-11-22 20:40:00

Every customer message outside a survey asks whether the customer has an open case; without
this index that lookup scans the cases table.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = ("0003", "0004")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("ix_cases_contact_id_status", ["contact_id", "status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_contact_id_status")

"""Erasure keeps the anonymous score: invitations and responses outlive their contact.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 15:10:00

Erasing a customer (issue 20) deletes the contact row; its channels, consents and cases go with
it by their `ON DELETE CASCADE`. Its invitations and responses stay, without a contact
(`ON DELETE SET NULL`), so NPS history and the rollups do not change: `contact_id` becomes
nullable on both and the keys keep their names.

SQLite cannot alter a key: batch mode rebuilds both tables (migrations/env.py turns foreign-key
enforcement off around it, so dropping the old `invitations` fires no cascade). The rebuild
copies the indexes, the partial `uq_invitations_link_token` with its predicate.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TABLES = ("invitations", "responses")


def _rekey(table: str, *, nullable: bool, ondelete: str) -> None:
    name = f"fk_{table}_contact_id_contacts"
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.drop_constraint(name, type_="foreignkey")
        batch_op.alter_column("contact_id", existing_type=Id, nullable=nullable)
        batch_op.create_foreign_key(name, "contacts", ["contact_id"], ["id"], ondelete=ondelete)


def upgrade() -> None:
    for table in _TABLES:
        _rekey(table, nullable=True, ondelete="SET NULL")


def downgrade() -> None:
    # An erased customer's scores have no contact to return to: they go, as before 0018.
    for table in reversed(_TABLES):
        op.execute(sa.text(f"DELETE FROM {table} WHERE contact_id IS NULL"))
        _rekey(table, nullable=False, ondelete="CASCADE")

"""A contact's e-mail address, for people moved in through the Delighted-compatible API.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02 15:00:00

Delighted identified people by e-mail; its users' integrations keep sending it. npsbot surveys
in chat, so an e-mail only finds and names the contact (indexed: `people/email:…` lookups); an
invitation for a contact with nothing but an e-mail is skipped (`no_chat_address`). The column
is on the contact row, so an erasure, which deletes the row, takes it too.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email", sa.String(length=254), nullable=True))
        batch_op.create_index("ix_contacts_email", ["email"])


def downgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index("ix_contacts_email")
        batch_op.drop_column("email")

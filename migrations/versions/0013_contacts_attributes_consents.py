"""Contacts known without a purchase: their own attributes, and consent per channel as history.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 12:00:00

`contacts.attributes` holds the business's flat key/values (segment, plan, city) that relational
audiences filter on; existing contacts get `{}`. `consents` keeps every grant and withdrawal of
consent per channel (the latest is the state), with how and when; it goes with its contact.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attributes", Json, nullable=False, server_default="{}"))
    op.create_table(
        "consents",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "contact_id",
            Id,
            sa.ForeignKey("contacts.id", ondelete="CASCADE", name="fk_consents_contact_id_contacts"),
            nullable=False,
        ),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("given", sa.Boolean(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_consents"),
    )
    op.create_index(
        "ix_consents_contact_id_channel_at", "consents", ["contact_id", "channel", "at"]
    )


def downgrade() -> None:
    op.drop_index("ix_consents_contact_id_channel_at", table_name="consents")
    op.drop_table("consents")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_column("attributes")

"""Foreign keys on `messages.contact_id` and `messages.invitation_id` again.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 04:40:00

0007 dropped them to save a lookup per message written. A message holds a customer's text and
phone number: the database, not only the code, makes sure it never names a contact or an
invitation that does not exist. The keys come back as they were before 0007 (`ON DELETE SET
NULL`: a message outlives neither its meaning nor its row). The partial indexes of 0007 stay.

Orphans first. While 0007 was applied nothing checked those ids, so a message may name a
contact or an invitation that is gone. Such a message keeps its row and its text; the dangling
id becomes NULL, what `ON DELETE SET NULL` would have done had the key been there. Nothing is
deleted; the number of ids cleared is logged (logger `alembic`).

SQLite cannot add a key to a table: batch mode rebuilds `messages`. migrations/env.py turns
SQLite's foreign-key enforcement off around the migrations, as SQLite's manual prescribes for a
rebuild (https://www.sqlite.org/lang_altertable.html#otheralter); else dropping the old table would fire the `ON DELETE SET NULL` of `case_events.message_id`
and `messages.in_reply_to_id` and unlink every staff thread. The rebuild copies the indexes
with their predicates (a test checks the partial ones).
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic")

_KEYS = (
    ("fk_messages_contact_id_contacts", "contact_id", "contacts"),
    ("fk_messages_invitation_id_invitations", "invitation_id", "invitations"),
)


def _clear_orphans(column: str, parent: str) -> None:
    """Set `messages.<column>` to NULL where it names a row `parent` does not have."""
    messages = sa.table("messages", sa.column(column))
    parents = sa.table(parent, sa.column("id"))
    gone = ~sa.exists().where(parents.c.id == messages.c[column])
    stmt = sa.update(messages).where(messages.c[column].is_not(None), gone).values({column: None})
    cleared = op.get_bind().execute(stmt).rowcount
    if cleared:
        log.warning("0008: %d messages named a missing %s row: %s set to NULL", cleared, parent, column)


def upgrade() -> None:
    for _name, column, parent in _KEYS:
        _clear_orphans(column, parent)
    with op.batch_alter_table("messages", schema=None) as batch_op:
        for name, column, parent in _KEYS:
            batch_op.create_foreign_key(name, parent, [column], ["id"], ondelete="SET NULL")


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        for name, _column, _parent in _KEYS:
            batch_op.drop_constraint(name, type_="foreignkey")

"""A lease on a claimed outbox reply: `messages.lease_until`.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 05:20:00

A worker that claims queued replies moves them to `sending` under a lease; one that dies
mid-send leaves the lease to expire, and the sweep makes the reply a visible `unknown` (the
provider may have it: never a silent resend) for `npsbot outbox unknown|resolve`. Before 0009
the claim time (`next_attempt_at`) stood in for the lease; a reply caught `sending` by this
upgrade gets the lease it had then (claim time + the old two minutes), so the sweep still
reaches it. SQLite adds a nullable column in place; batch mode keeps it portable.
"""

from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_LEASE = timedelta(minutes=2)  # scheduler.retry.LEASE when the claim time was the lease


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
    messages = sa.table(
        "messages",
        sa.column("status", sa.String),
        sa.column("next_attempt_at", sa.DateTime(timezone=True)),
        sa.column("lease_until", sa.DateTime(timezone=True)),
    )
    rows = op.get_bind().execute(
        sa.select(messages.c.next_attempt_at)
        .where(messages.c.status == "sending", messages.c.lease_until.is_(None))
        .distinct()
    )
    for (claimed,) in list(rows):
        lease = None if claimed is None else claimed + _OLD_LEASE
        op.get_bind().execute(
            sa.update(messages)
            .where(
                messages.c.status == "sending",
                messages.c.next_attempt_at.is_(None)
                if claimed is None
                else messages.c.next_attempt_at == claimed,
            )
            .values(lease_until=lease)
        )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("lease_until")

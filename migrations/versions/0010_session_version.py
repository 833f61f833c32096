"""`staff_users.session_version`: logging out or changing the password ends every session.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 05:15:00

A dashboard session is a signed cookie: it cannot be taken back, only refused. Each session
carries the version its user had at log-in; logging out and a new password bump the version, so
every older cookie (copied, stolen, or on another device) stops working. Existing users start at
0; a cookie made before this migration carries no version and is refused: staff log in once
more. SQLite cannot add a NOT NULL column without a default: the default stays on the column
(batch mode, like 0008).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("session_version", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.drop_column("session_version")

"""Staff roles owner/agent/viewer, and each user's dashboard language.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 12:00:00

Until now there were two roles: `staff` (everything there was: the dashboard and cases) and
`readonly`. Owners now also manage users, API keys and surveys. `staff` becomes `owner`, so
nobody loses what they could do; `readonly` becomes `viewer`. Demote with `npsbot user role`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

users = sa.table("staff_users", sa.column("role", sa.String))


def upgrade() -> None:
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=5), nullable=True))
    op.execute(users.update().where(users.c.role == "staff").values(role="owner"))
    op.execute(users.update().where(users.c.role == "readonly").values(role="viewer"))


def downgrade() -> None:
    op.execute(users.update().where(users.c.role.in_(["owner", "agent"])).values(role="staff"))
    op.execute(users.update().where(users.c.role == "viewer").values(role="readonly"))
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.drop_column("language")

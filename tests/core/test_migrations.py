"""The migrations produce exactly the models' schema, on SQLite and on PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from bot.storage.db import make_engine
from bot.storage.models import Base


def test_autogenerate_finds_no_difference_after_upgrade(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(ctx, Base.metadata) == []
    engine.dispose()

"""Alembic environment: the URL comes from npsbot's settings, the schema from bot.storage.models.

On SQLite the migrations run with foreign-key enforcement off and the keys are checked after the
commit, as SQLite's manual prescribes for rebuilding a table
(https://www.sqlite.org/lang_altertable.html#otheralter): batch mode rebuilds a table by dropping
it, and a drop with enforcement on fires the ON DELETE actions of the tables that point at it.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import Connection

from bot.storage.db import make_engine
from bot.storage.models import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection, applied: list[Any]) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
        compare_type=True,
        on_version_apply=lambda **kw: applied.append(kw["step"]),
    )


def _sqlite(connection: Connection, sql: str) -> list[Any]:
    """Run `sql` on the driver's connection, outside any transaction: SQLite ignores a change
    of `foreign_keys` inside one, and SQLAlchemy's connection would begin one."""
    driver = connection.connection.driver_connection
    assert driver is not None
    return list(driver.execute(sql).fetchall())


def _migrate(connection: Connection) -> None:
    applied: list[Any] = []
    sqlite = connection.dialect.name == "sqlite" and not connection.in_transaction()
    if sqlite:
        _sqlite(connection, "PRAGMA foreign_keys=OFF")
    try:
        _configure(connection, applied)
        with context.begin_transaction():
            context.run_migrations()
        if sqlite and applied:
            broken = _sqlite(connection, "PRAGMA foreign_key_check")
            if broken:
                raise RuntimeError(f"foreign keys broken after the migrations: {broken[:10]}")
    finally:
        if sqlite:
            _sqlite(connection, "PRAGMA foreign_keys=ON")


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        _migrate(conn)
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

"""`npsbot db upgrade` and friends: Alembic configured from code, no alembic.ini needed."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, make_url

from bot.config import normalise_database_url

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalise_database_url(url).replace("%", "%%"))
    return cfg


class MigrateError(Exception):
    """A database the migrations cannot reach, said in one line with what to do."""


def sqlite_folder_missing(url: str) -> Path | None:
    """The folder a SQLite database file would go in, when it does not exist (else None)."""
    u = make_url(normalise_database_url(url))
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    folder = Path(u.database).absolute().parent
    return None if folder.is_dir() else folder


def current_revisions(url: str) -> set[str]:
    """The revisions the database at URL is at (empty for a new, empty database)."""
    if (folder := sqlite_folder_missing(url)) is not None:
        raise MigrateError(f"no such folder for the SQLite database: {folder} (create it first)")
    engine = create_engine(normalise_database_url(url))
    try:
        with engine.connect() as conn:
            return set(MigrationContext.configure(conn).get_current_heads())
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "heads") -> None:
    # "heads": revisions written in parallel branch from one parent and all apply.
    command.upgrade(alembic_config(url), revision)


@cache
def expected_heads() -> frozenset[str]:
    """The revisions the code's models correspond to."""
    return frozenset(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


def behind(conn: Connection) -> bool:
    """Is the database at CONN missing migrations this code needs?"""
    current = set(MigrationContext.configure(conn).get_current_heads())
    return not expected_heads() <= current


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def revision(url: str, message: str) -> None:
    """Autogenerate a revision (then read it by hand before committing)."""
    command.revision(alembic_config(url), message=message, autogenerate=True)

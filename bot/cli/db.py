"""Database migrations: `npsbot db upgrade|downgrade|revision`."""

from __future__ import annotations

import click

from bot.cli.common import settings
from bot.storage.migrate import downgrade, revision, upgrade


@click.group()
def db() -> None:
    """Database migrations."""


@db.command("upgrade")
@click.argument("revision", default="heads")
def db_upgrade(revision: str) -> None:
    """Migrate the database to REVISION (default: the latest)."""
    upgrade(settings().database_url, revision)
    click.echo("database is up to date")


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Migrate the database back to REVISION ("base" empties it)."""
    downgrade(settings().database_url, revision)


@db.command("revision")
@click.option("-m", "--message", required=True)
def db_revision(message: str) -> None:
    """Autogenerate a migration from bot.storage.models (read it by hand before committing)."""
    revision(settings().database_url, message)

"""Database migrations: `npsbot db upgrade|downgrade|revision`."""

from __future__ import annotations

import click
from sqlalchemy.exc import OperationalError

from bot.cli.common import settings
from bot.storage.migrate import MigrateError, current_revisions, downgrade, revision, upgrade


@click.group()
def db() -> None:
    """Database migrations."""


@db.command("upgrade")
@click.argument("revision", default="heads")
def db_upgrade(revision: str) -> None:
    """Migrate the database to REVISION (default: the latest)."""
    url = settings().database_url
    try:
        before = current_revisions(url)
    except MigrateError as exc:
        raise click.ClickException(str(exc)) from exc
    except OperationalError as exc:
        raise click.ClickException(
            f"cannot reach the database ({type(exc.orig).__name__}): check DATABASE_URL"
        ) from exc
    upgrade(url, revision)
    after = current_revisions(url)
    if not before:
        click.echo("created the database schema")
    elif before != after:
        click.echo("migrated the database: it is up to date")
    else:
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

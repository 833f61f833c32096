"""`npsbot apikey create|revoke`: keys for the business API."""

from __future__ import annotations

import click

from bot.accounts.apikeys import ApiKeyError, create_key, revoke_key
from bot.cli.common import runtime


@click.group()
def apikey() -> None:
    """API keys for the business API."""


@apikey.command("create")
@click.argument("name")
def apikey_create(name: str) -> None:
    """Create a key named NAME and print it (the only time it is shown)."""
    rt = runtime()
    try:
        with rt.db.session() as s:
            key = create_key(s, name, rt.clock())
    except ApiKeyError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(key)


@apikey.command("revoke")
@click.argument("name")
def apikey_revoke(name: str) -> None:
    """Revoke the key named NAME."""
    rt = runtime()
    try:
        with rt.db.session() as s:
            revoke_key(s, name, rt.clock())
    except ApiKeyError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"revoked {name}")

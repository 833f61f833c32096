"""`npsbot apikey create|list|revoke`: keys for the business API (the same `bot.accounts.apikeys`
functions the dashboard's team page calls); each change is an audit row (actor and source "cli")."""

from __future__ import annotations

from datetime import datetime

import click

from bot.accounts.apikeys import ApiKeyError, create_key, list_keys, revoke_key, shown_name
from bot.cli.common import runtime
from bot.storage.audit import CLI, record


@click.group()
def apikey() -> None:
    """API keys for the business API."""


@apikey.command("create")
@click.argument("name")
def apikey_create(name: str) -> None:
    """Create a key named NAME and print it (the only time it is shown)."""
    rt = runtime()
    try:
        with rt.db.session_for_update() as s:
            key = create_key(s, name, rt.clock())
            target = f"apikey:{name.strip()}"
            record(s, at=rt.clock(), actor=CLI, action="apikey.create", target=target, source=CLI)
    except ApiKeyError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(key)


@apikey.command("revoke")
@click.argument("name")
def apikey_revoke(name: str) -> None:
    """Revoke the key named NAME."""
    rt = runtime()
    try:
        with rt.db.session_for_update() as s:
            revoke_key(s, name, rt.clock())
            target = f"apikey:{name}"
            record(s, at=rt.clock(), actor=CLI, action="apikey.revoke", target=target, source=CLI)
    except ApiKeyError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"revoked {name}")


@apikey.command("list")
def apikey_list() -> None:
    """List the keys: name, prefix, created, last used, revoked (UTC; never the keys)."""
    rt = runtime()
    with rt.db.session() as s:
        rows = [
            (shown_name(k), k.prefix + "…", k.created_at, k.last_used_at, k.revoked_at)
            for k in list_keys(s)
        ]
    if not rows:
        click.echo("no API keys yet: npsbot apikey create NAME")
        return
    click.echo("name\tprefix\tcreated\tlast used\trevoked")
    for name, prefix, created, used, revoked in rows:
        click.echo(f"{name}\t{prefix}\t{_when(created)}\t{_when(used, 'never')}\t{_when(revoked)}")


def _when(at: datetime | None, none: str = "-") -> str:
    return f"{at:%Y-%m-%d %H:%M}" if at is not None else none

"""Outbox replies an operator must look at: `npsbot outbox unknown|resolve`."""

from __future__ import annotations

import click

from bot.cli.common import runtime
from bot.cli.purchases import outcome_option
from bot.staff.cards import mask
from bot.survey.operator import resolve_reply, unknown_replies


@click.group()
def outbox() -> None:
    """Queued replies an operator must look at."""


@outbox.command("unknown")
def outbox_unknown() -> None:
    """List replies whose send may or may not have happened (a worker died mid-send)."""
    rows = unknown_replies(runtime())
    for msg_id, channel, address, kind, since in rows:
        click.echo(f"{msg_id}\t{channel}\t{mask(address, channel)}\t{kind}\t{since:%Y-%m-%d %H:%M}")
    click.echo(f"{len(rows)} unknown", err=True)


@outbox.command("resolve")
@click.argument("message_id", type=int)
@outcome_option
def outbox_resolve(message_id: int, outcome: str) -> None:
    """Decide what happened to an `unknown` reply."""
    try:
        resolve_reply(runtime(), message_id, outcome)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"reply {message_id}: {outcome}")

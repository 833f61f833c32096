"""Purchases and their invitations: `npsbot import`, `npsbot invitations unknown|resolve`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bot.cli.common import runtime
from bot.survey.importer import import_purchases, rows
from bot.survey.operator import OUTCOMES, resolve_unknown, unknown_invitations


@click.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def import_cmd(path: str) -> None:
    """Import purchases from a CSV file (columns: order_id, customer_id, name, phone,
    telegram_chat_id, language, timezone, survey, occurred_at, delay_minutes, channels,
    metadata.<key>). Bad lines are reported by number; the rest are imported; re-running the
    file creates nothing twice."""
    rt = runtime()
    try:
        total = sum(1 for _ in rows(Path(path)))
        with click.progressbar(length=total, label="importing", file=sys.stderr) as bar:
            report = import_purchases(rt, Path(path), bar.update)
    except (ValueError, UnicodeDecodeError) as exc:
        raise click.ClickException(str(exc)) from exc
    for line, reason in report.errors:
        click.echo(f"{path}: line {line}: {reason}", err=True)
    click.echo(
        f"{report.created} scheduled, {report.skipped} skipped by the rules, "
        f"{report.unchanged} already imported, {len(report.errors)} with errors"
    )
    if report.errors:
        sys.exit(1)


@click.group()
def invitations() -> None:
    """Invitations an operator must look at."""


@invitations.command("unknown")
def invitations_unknown() -> None:
    """List invitations whose send may or may not have happened (a worker died mid-send)."""
    rows = unknown_invitations(runtime())
    for inv_id, order_id, channel, since in rows:
        click.echo(f"{inv_id}\t{order_id or '-'}\t{channel or '-'}\t{since:%Y-%m-%d %H:%M}")
    click.echo(f"{len(rows)} unknown", err=True)


# `--as` of every `resolve` command (invitations, outbox replies).
outcome_option = click.option(
    "--as",
    "outcome",
    type=click.Choice(OUTCOMES),
    required=True,
    help="sent: the customer got it; resend: schedule it again; failed: give up.",
)


@invitations.command("resolve")
@click.argument("invitation_id", type=int)
@outcome_option
def invitations_resolve(invitation_id: int, outcome: str) -> None:
    """Decide what happened to an `unknown` invitation."""
    try:
        resolve_unknown(runtime(), invitation_id, outcome)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"invitation {invitation_id}: {outcome}")

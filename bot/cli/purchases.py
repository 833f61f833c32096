"""Purchases and their invitations: `npsbot import`, `npsbot invitations unknown|resolve`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bot.cli.common import runtime
from bot.survey.importer import FileError, Report, Table, import_purchases, read_table
from bot.survey.operator import OUTCOMES, resolve_unknown, unknown_invitations

# Ambiguous dates named one by one in the summary; the rest are counted.
AMBIGUOUS_SHOWN = 10


@click.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--day-first/--month-first",
    default=None,
    help="How to read 01/12/2026. Default: day-first for a ';'-separated file or one whose "
    "customers are mostly es/pt, month-first otherwise.",
)
def import_cmd(path: str, day_first: bool | None) -> None:
    """Import purchases from a CSV file (columns: order_id, customer_id, name, phone,
    telegram_chat_id, language, timezone, survey, occurred_at, delay_minutes, channels,
    metadata.<key>). UTF-8 or Windows-1252, separated by ',', ';' or tab; other columns are
    ignored with a warning. Bad lines are reported by number; the rest are imported; re-running
    the file creates nothing twice."""
    rt = runtime()
    try:
        table = read_table(Path(path), day_first)
    except FileError as exc:
        raise click.ClickException(str(exc)) from exc
    for note in describe(path, table):
        click.echo(note, err=True)
    with click.progressbar(length=len(table.rows), label="importing", file=sys.stderr) as bar:
        report = import_purchases(rt, table, bar.update)
    order = "day-first" if table.day_first else "month-first"
    finish(
        path,
        report,
        f"ambiguous date(s) read {order}",
        f"{report.created} scheduled, {report.skipped} skipped by the rules, "
        f"{report.unchanged} already imported, {len(report.errors)} with errors",
    )


def finish(path: str, report: Report, ambiguous: str, summary: str) -> None:
    """An import's end, the same for every file: each bad line by number, the ambiguous dates
    (the first few named), the summary; exit code 1 when a line was refused."""
    for line, reason in report.errors:
        click.echo(f"{path}: line {line}: {reason}", err=True)
    if report.ambiguous:
        shown = ", ".join(f"line {n} ({raw})" for n, raw in report.ambiguous[:AMBIGUOUS_SHOWN])
        more = len(report.ambiguous) - AMBIGUOUS_SHOWN
        click.echo(
            f"{path}: {len(report.ambiguous)} {ambiguous}: {shown}"
            + (f" and {more} more" if more > 0 else ""),
            err=True,
        )
    click.echo(summary)
    if report.errors:
        sys.exit(1)


def describe(path: str, table: Table, dates: str = "occurred_at") -> list[str]:
    """How the file was read, and the columns left out, as the user is told before importing."""
    sep = {"\t": "tab", ",": "','", ";": "';'"}[table.delimiter]
    lines = [f"{path}: read as {table.encoding}, {sep}-separated"]
    if any((row.get(dates) or "").strip() for _, row in table.rows):
        order = "day-first (DD/MM/YYYY)" if table.day_first else "month-first (MM/DD/YYYY)"
        lines.append(f"{path}: dates read {order}: {table.order_reason}")
    if table.ignored:
        lines.append(f"{path}: line 1: ignored unknown column(s) {', '.join(table.ignored)}")
    return lines


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

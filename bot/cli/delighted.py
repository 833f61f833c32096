"""`npsbot import-delighted`: a Delighted export's responses, so the trend continues."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bot.cli.common import runtime
from bot.cli.purchases import describe, finish
from bot.integrations.delighted.importer import ID, WHEN, import_export
from bot.survey.importer import FileError, read_table


@click.command("import-delighted")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--survey",
    default="delighted",
    show_default=True,
    help="The survey the responses belong to (made when missing; never sent by itself).",
)
@click.option(
    "--day-first/--month-first",
    default=None,
    help="How to read 01/12/2026 in Response Timestamp (unix timestamps need neither). "
    "Default: day-first for a ';'-separated file, month-first otherwise.",
)
def import_delighted(path: str, survey: str, day_first: bool | None) -> None:
    """Import a Delighted export (Response ID, Email, Phone Number, Name, Score, Comment,
    Response Timestamp, and the people's properties as further columns): each line a completed
    response at its own date, linked to the contact its e-mail or phone names, or anonymous.
    Bad lines are reported by number; re-running the file imports nothing twice."""
    rt = runtime()
    try:
        table = read_table(Path(path), day_first, required=ID, known=lambda _name: True)
    except FileError as exc:
        raise click.ClickException(str(exc)) from exc
    for note in describe(path, table, dates=WHEN):
        click.echo(note, err=True)
    with click.progressbar(length=len(table.rows), label="importing", file=sys.stderr) as bar:
        report = import_export(rt, table, survey, bar.update)
    order = "day-first" if table.day_first else "month-first"
    finish(
        path,
        report,
        f"ambiguous date(s) read {order}",
        f"{report.created} imported, {report.unchanged} already imported, "
        f"{len(report.errors)} with errors",
    )

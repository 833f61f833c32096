"""Survey definitions: `npsbot surveys show` and `npsbot surveys sync FILE` (the only writer)."""

from __future__ import annotations

import json

import click

from bot.bootstrap import build_runtime
from bot.cli.common import settings
from bot.definitions import SurveyFileError, load_surveys
from bot.survey.surveys import diff_surveys, stored_surveys, sync_surveys


@click.group()
def surveys() -> None:
    """Survey definitions in the database (changed only by `surveys sync`)."""


@surveys.command("show")
def show() -> None:
    """Print the survey definitions the database holds (JSON, one survey per line)."""
    rt = build_runtime(settings())
    click.get_current_context().call_on_close(rt.close)
    with rt.db.session() as s:
        for row in stored_surveys(s):
            click.echo(json.dumps(row, ensure_ascii=False, sort_keys=True, default=str))


@surveys.command("sync")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--yes", is_flag=True, help="Apply without asking.")
def sync(file: str, yes: bool) -> None:
    """Show how FILE differs from the database, then (after asking) write FILE's surveys."""
    try:
        defs = load_surveys(file)
    except OSError as exc:
        raise click.ClickException(f"cannot read {file}: {exc.strerror}") from exc
    except SurveyFileError as exc:
        raise click.ClickException(str(exc)) from exc
    rt = build_runtime(settings())
    click.get_current_context().call_on_close(rt.close)
    with rt.db.session() as s:
        changes = diff_surveys(s, defs)
    for c in changes:
        detail = f": {', '.join(c.fields)}" if c.fields else ""
        click.echo(f"{c.status:9} {c.key}{detail}")
    if all(c.status == "unchanged" for c in changes):
        click.echo("nothing to sync")
        return
    try:
        ok = yes or click.confirm("write these definitions to the database?")
    except click.Abort:  # no terminal to answer from (stdin closed)
        ok = False
    if not ok:
        raise click.ClickException("nothing written (answer y, or pass --yes)")
    with rt.db.session_for_update() as s:
        sync_surveys(s, defs)
    click.echo(f"synced {sum(c.status != 'unchanged' for c in changes)} survey(s) from {file}")

"""Survey definitions: `npsbot surveys show`, `export FILE` and `import FILE` (the dashboard's
owners are the other writer; `sync` is the old name of `import`)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from bot.bootstrap import build_runtime
from bot.cli.common import settings
from bot.definitions import SurveyFileError, load_surveys
from bot.storage.audit import BY_CLI
from bot.survey.surveys import diff_surveys, export_toml, stored_surveys, sync_surveys


@click.group()
def surveys() -> None:
    """Survey definitions in the database (edited in the dashboard, or exported and imported)."""


@surveys.command("show")
def show() -> None:
    """Print the survey definitions the database holds (JSON, one survey per line)."""
    rt = build_runtime(settings())
    click.get_current_context().call_on_close(rt.close)
    with rt.db.session() as s:
        for row in stored_surveys(s):
            click.echo(json.dumps(row, ensure_ascii=False, sort_keys=True, default=str))


@surveys.command("export")
@click.argument("file", type=click.Path(dir_okay=False))
def export(file: str) -> None:
    """Write the database's surveys to FILE as TOML (`import FILE` reads it back unchanged)."""
    rt = build_runtime(settings())
    click.get_current_context().call_on_close(rt.close)
    with rt.db.session() as s:
        text, count = export_toml(s), len(stored_surveys(s))
    try:
        Path(file).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"cannot write {file}: {exc.strerror}") from exc
    click.echo(f"exported {count} survey(s) to {file}")


def _import(file: str, yes: bool) -> None:
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
        click.echo("nothing to import")
        return
    try:
        ok = yes or click.confirm("write these definitions to the database?")
    except click.Abort:  # no terminal to answer from (stdin closed)
        ok = False
    if not ok:
        raise click.ClickException("nothing written (answer y, or pass --yes)")
    with rt.db.session_for_update() as s:
        sync_surveys(s, defs, by=BY_CLI, now=rt.clock())
    click.echo(f"imported {sum(c.status != 'unchanged' for c in changes)} survey(s) from {file}")


@surveys.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--yes", is_flag=True, help="Apply without asking.")
def import_(file: str, yes: bool) -> None:
    """Show how FILE differs from the database, then (after asking) write FILE's surveys."""
    _import(file, yes)


@surveys.command("sync", hidden=True)
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--yes", is_flag=True, help="Apply without asking.")
def sync(file: str, yes: bool) -> None:
    """The old name of `import`."""
    _import(file, yes)

"""`npsbot report`, `npsbot export` and `npsbot insights refresh`."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path
from typing import Any

import click

from bot.cli.common import runtime
from bot.insights import rollup
from bot.insights.exports import ExportError, export_responses, record_export, render_report
from bot.insights.filters import FilterError, parse_filters
from bot.storage.audit import BY_CLI


def _report_filters(options: dict[str, Any], meta: tuple[str, ...]) -> Any:
    """`npsbot report`/`export` options → the API's filters (same names, same errors)."""
    args: dict[str, list[str]] = {
        k: [v] for k, v in options.items() if v is not None and k not in ("meta",)
    }
    for item in meta:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r}: use KEY=VALUE", param_hint="--meta")
        args[f"meta.{key}"] = [value]
    try:
        return parse_filters(args)
    except FilterError as exc:
        raise click.BadParameter(exc.reason, param_hint=f"--{exc.param}") from exc


def _filter_options(fn: Any) -> Any:
    for name, help_ in reversed(
        [
            ("from", "start: YYYY-MM-DD or RFC 3339"),
            ("to", "end: YYYY-MM-DD (inclusive) or RFC 3339"),
            ("survey", "survey key(s), comma-separated"),
            ("kind", "transactional or relational"),
            ("channel", "channel(s), comma-separated"),
            ("language", "es, en, pt"),
            ("category", "promoter, passive or detractor"),
        ]
    ):
        fn = click.option(f"--{name}", f"opt_{name}", default=None, help=help_)(fn)
    return click.option(
        "--meta", multiple=True, metavar="KEY=VALUE", help="purchase metadata, e.g. store=centro"
    )(fn)


def _opts(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k[4:]: v for k, v in kwargs.items() if k.startswith("opt_")}


@click.command()
@_filter_options
@click.option("--interval", type=click.Choice(["day", "week", "month"]), default="week")
def report(meta: tuple[str, ...], interval: str, **kwargs: Any) -> None:
    """Print the NPS report: NPS with its margin, trend sparkline, distribution, themes."""
    f = _report_filters(_opts(kwargs), meta)
    rt = runtime()
    try:
        with rt.db.session() as s:
            click.echo(render_report(s, f, interval))
    finally:
        rt.close()


@click.command()
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
@_filter_options
def export(path: str, meta: tuple[str, ...], **kwargs: Any) -> None:
    """Export the responses matching the filters to PATH (.csv or .xlsx)."""
    f = _report_filters(_opts(kwargs), meta)
    folder = Path(path).absolute().parent
    if not folder.is_dir():
        raise click.ClickException(f"no such folder: {folder} (create it, or export elsewhere)")
    rt = runtime()
    try:
        with rt.db.session() as s:
            n = export_responses(s, f, path)
        with rt.db.session_for_update() as s:
            record_export(s, BY_CLI, rt.clock(), f, path, n)
    except ExportError as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror}") from exc
    finally:
        rt.close()
    click.echo(f"exported {n} responses to {path}")


@click.group("insights")
def insights_group() -> None:
    """The reports' daily rollup."""


@insights_group.command("refresh")
@click.option("--full", is_flag=True, help="empty the rollup and rebuild it from every response")
def insights_refresh(full: bool) -> None:
    """Bring the rollup up to yesterday (UTC) and rebuild changed days (the worker does this
    every minute; the first run backfills)."""
    rt = runtime()
    try:
        today = rt.clock().astimezone(UTC).date()
        if full:
            with rt.db.session_for_update() as s:
                rollup.reset_rollup(s)
        while True:
            with rt.db.session_for_update() as s:
                done = rollup.refresh_rollup(s, today, max_days=rollup.ROLLUP_CHUNK_DAYS)
            click.echo(f"rollup up to {done.upto}: {done.days} days rebuilt", err=True)
            if not done.behind:
                break
    finally:
        rt.close()

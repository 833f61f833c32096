"""`npsbot retention preview`: what the worker's next daily retention run removes."""

from __future__ import annotations

import json

import click

from bot.cli.common import runtime
from bot.privacy.retention import kinds, plan, preview_rows


@click.group()
def retention() -> None:
    """Retention of personal data (RETENTION_*_DAYS; docs/privacy.md)."""


@retention.command("preview")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per kind, one a line.")
def preview_cmd(as_json: bool) -> None:
    """Per kind of data with a limit, how many rows the next run removes and the oldest one's
    date. Nothing is changed: the worker's own rule, counted."""
    rt = runtime()
    with rt.db.session() as s:
        rows = preview_rows(plan(s, rt.settings, rt.clock()))
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    if not rows:
        names = ", ".join(f"RETENTION_{k.name.upper()}_DAYS" for k in kinds())
        click.echo(f"nothing is removed: every kind is kept forever (set {names})")
        return
    click.echo(f"{'kind':<11} {'days':>5} {'removes':>8}  {'oldest':<20}  what")
    for row in rows:
        more = " (more in the following runs)" if row["more"] else ""
        oldest = (row["oldest"] or "-")[:19] + ("Z" if row["oldest"] else "")
        click.echo(
            f"{row['kind']:<11} {row['days']:>5} {row['count']:>8}  {oldest:<20}  "
            f"{row['what']}{more}"
        )

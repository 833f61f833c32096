"""The staff side: `npsbot cases`, `npsbot digest`."""

from __future__ import annotations

import click

from bot.bootstrap import build_runtime
from bot.cli.common import settings
from bot.staff import digest as d
from bot.staff import list_open_cases


@click.command()
def cases() -> None:
    """List open cases with their ages and owners."""
    rt = build_runtime(settings(), sync=False)
    try:
        with rt.db.session() as s:
            lines = list_open_cases(s, rt.clock())
    finally:
        rt.close()
    click.echo("\n".join(lines) if lines else "no open cases")


@click.command()
@click.option("--period", type=click.Choice(["daily", "weekly"]), default="daily")
def digest(period: str) -> None:
    """Print the digest of the last complete day or week (what the staff chat receives)."""
    rt = build_runtime(settings(), sync=False)
    try:
        now = rt.clock()
        with rt.db.session() as s:
            click.echo(d.render(d.build(s, period, d.bounds(period, now)[1], now), now))
    finally:
        rt.close()

"""`npsbot programs preview SURVEY`: whom a relational survey would ask in the next days."""

from __future__ import annotations

import click

from bot.cli.common import runtime
from bot.survey.program_run import OUTSIDE, counts, preview


@click.group()
def programs() -> None:
    """Relational surveys: the whole base, a share every day (docs/programs.md)."""


@programs.command("preview")
@click.argument("survey")
@click.option("--days", default=7, show_default=True, type=click.IntRange(1, 366))
@click.option("--verbose", is_flag=True, help="Name the contacts, not only count them.")
def preview_cmd(survey: str, days: int, verbose: bool) -> None:
    """Who SURVEY would ask each of the next DAYS days, and why not the others (counted per
    reason). Nothing is sent or stored: the worker's own plan, each day's contacts counted as
    asked for the days after."""
    rt = runtime()
    try:
        plan, members = preview(rt, survey, days, rt.clock())
    except KeyError:
        raise click.ClickException(f"no relational survey {survey!r}") from None
    for day in plan:
        why = counts(day.plan.reasons) | ({OUTSIDE: day.outside} if day.outside else {})
        others = ", ".join(f"{n} {reason}" for reason, n in why.items()) or "nobody"
        click.echo(f"{day.day}: {len(day.plan.chosen)} asked; not asked: {others}")
        if verbose:
            if day.plan.chosen:
                click.echo("  asked: " + ", ".join(members[c].name for c in day.plan.chosen))
            by_reason: dict[str, list[str]] = {}
            for cid, reason in day.plan.reasons.items():
                by_reason.setdefault(reason, []).append(members[cid].name)
            for reason, names in sorted(by_reason.items()):
                click.echo(f"  {reason}: " + ", ".join(names))

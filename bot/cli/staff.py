"""The staff side: `npsbot cases` (list; take, resolve, reopen), `npsbot digest`."""

from __future__ import annotations

import getpass

import click

from bot.bootstrap import build_runtime
from bot.cli.common import settings
from bot.staff import digest as d
from bot.staff.cases import OUTCOMES, Actor, NotAllowed, list_open_cases
from bot.staff.desk import act
from bot.storage.audit import CLI


@click.group(invoke_without_command=True)
@click.pass_context
def cases(ctx: click.Context) -> None:
    """List open cases with their ages and owners; or act on one (take, resolve, reopen)."""
    if ctx.invoked_subcommand is not None:
        return
    rt = build_runtime(settings(), sync=False)
    try:
        with rt.db.session() as s:
            lines = list_open_cases(s, rt.clock())
    finally:
        rt.close()
    click.echo("\n".join(lines) if lines else "no open cases")


def _act(
    case_id: int,
    action: str,
    name: str | None,
    outcome: str | None = None,
    note: str | None = None,
) -> None:
    who = name or getpass.getuser()
    rt = build_runtime(settings(), sync=False)
    try:
        actor = Actor(f"cli:{who}"[:32], who, audit=CLI, source=CLI)
        done = act(rt, case_id, action, actor, outcome, note)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from exc
    except NotAllowed as exc:
        raise click.ClickException(f"case #{case_id}: {exc}") from exc
    finally:
        rt.close()
    result = f"#{done.case_id} {done.status} · {done.assignee or 'nobody'}"
    click.echo(result + (f" · {done.outcome}" if done.outcome else ""))


AS = click.option("--as", "name", metavar="NAME", help="Who acts (default: your login name).")


@cases.command()
@click.argument("case_id", type=int)
@AS
def take(case_id: int, name: str | None) -> None:
    """Take an open case."""
    _act(case_id, "take", name)


@cases.command()
@click.argument("case_id", type=int)
@AS
@click.option("--outcome", type=click.Choice(list(OUTCOMES)), help="What came of it.")
@click.option("--note", help="In your words (needed with --outcome other).")
def resolve(case_id: int, name: str | None, outcome: str | None, note: str | None) -> None:
    """Resolve a case (taking it, if nobody had)."""
    _act(case_id, "resolve", name, outcome, note)


@cases.command()
@click.argument("case_id", type=int)
@AS
def reopen(case_id: int, name: str | None) -> None:
    """Reopen a resolved case (back to whoever had it)."""
    _act(case_id, "reopen", name)


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

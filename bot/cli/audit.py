"""`npsbot audit`: the audit trail, newest first (the query `/dashboard/audit` uses)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import click

from bot.accounts.audit import MAX_LIMIT, PAGE, AuditFilter, as_json, events
from bot.cli.common import runtime
from bot.storage.models import AuditEvent

DAY = click.DateTime(formats=["%Y-%m-%d"])


def _day(value: datetime | None) -> date | None:
    return value.date() if value is not None else None


@click.command()
@click.option("--since", type=DAY, help="From this day on (YYYY-MM-DD, UTC).")
@click.option("--until", type=DAY, help="Up to this day, included (YYYY-MM-DD, UTC).")
@click.option("--actor", help='Who acted, exactly: "dashboard:ana", "api:shop", "cli"…')
@click.option("--action", help='An action ("case.take") or a whole area ("case").')
@click.option("--target", help='What it acted on, exactly: "case:12", "user:ana"…')
@click.option(
    "--limit", type=click.IntRange(1, MAX_LIMIT), default=PAGE, show_default=True, help="Rows."
)
@click.option("--json", "as_json_lines", is_flag=True, help="One JSON object per line.")
def audit(
    since: datetime | None,
    until: datetime | None,
    actor: str | None,
    action: str | None,
    target: str | None,
    limit: int,
    as_json_lines: bool,
) -> None:
    """Who did what, when and from where: staff log-ins, case actions, exports, survey, user,
    key and touchpoint changes. Never a message text."""
    f = AuditFilter(actor, action, target, _day(since), _day(until))
    rt = runtime()
    with rt.db.session() as s:
        found = events(s, f, limit).events
        if as_json_lines:
            lines = [json.dumps(as_json(e), ensure_ascii=False, sort_keys=True) for e in found]
        else:
            lines = [_line(e) for e in found] or ["no audit events match"]
    if lines:  # --json with nothing found prints nothing
        click.echo("\n".join(lines))


def _line(e: AuditEvent) -> str:
    """when (UTC), who, what, on what, from where, the details: tab-separated."""
    shown = {
        k: v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
        for k, v in e.detail.items()
    }
    detail = " ".join(f"{k}={v}" for k, v in sorted(shown.items()))
    cells = [f"{e.at.astimezone(UTC):%Y-%m-%d %H:%M:%S}", e.actor, e.action]
    return "\t".join([*cells, e.target or "-", e.source or "-", detail]).rstrip()

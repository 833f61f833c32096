"""`npsbot webhooks add|list|remove|enable|disable|rotate|deliveries|replay`: the business's
endpoints for npsbot's events, over the same `bot.integrations.webhooks` functions as the API
and the dashboard (each change audited as "cli")."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import click
from sqlalchemy.orm import Session

from bot.cli.common import runtime
from bot.integrations import webhooks as hooks
from bot.storage.hooks import EVENT_TYPES
from bot.storage.models import DeliveryState

CLI = hooks.Actor("cli", "cli")
T = TypeVar("T")


def _write(fn: Callable[[Session, datetime], T]) -> T:
    rt = runtime()
    try:
        with rt.db.session_for_update() as s:
            return fn(s, rt.clock())
    except (hooks.Refused, LookupError) as exc:
        raise click.ClickException(str(exc).strip("'\"")) from exc


def _moment(value: str) -> datetime:
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value!r}: a date (2026-11-20) or a date-time") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


@click.group()
def webhooks() -> None:
    """Outbound webhooks: npsbot calls your endpoints when responses, cases and contacts change."""


@webhooks.command("add")
@click.argument("url")
@click.option(
    "--event",
    "events",
    multiple=True,
    type=click.Choice(EVENT_TYPES),
    help="An event to send (repeat it); all of them when none is given.",
)
@click.option("--description", default=None, help="Whose endpoint this is.")
def add(url: str, events: tuple[str, ...], description: str | None) -> None:
    """Subscribe URL; prints its id and its secret (shown once: give it to the receiver)."""
    chosen = list(events or EVENT_TYPES)

    def make(s: Session, now: datetime) -> tuple[int, str]:
        sub, secret = hooks.create(
            s, url=url, events=chosen, description=description, now=now, actor=CLI
        )
        return sub.id, secret

    sub_id, secret = _write(make)
    click.echo(f"webhook {sub_id}: {url} ({', '.join(chosen)})")
    click.echo(secret)


@webhooks.command("list")
def listing() -> None:
    """One JSON line per webhook (never the secrets)."""
    rt = runtime()
    with rt.db.session() as s:
        for sub in hooks.listing(s):
            click.echo(json.dumps(hooks.subscription_json(sub, rt.clock())))


@webhooks.command("remove")
@click.argument("webhook_id", type=int)
def remove(webhook_id: int) -> None:
    """Delete the webhook and its delivery log."""
    _write(lambda s, now: hooks.remove(s, webhook_id, now=now, actor=CLI))
    click.echo(f"removed webhook {webhook_id}")


@webhooks.command("enable")
@click.argument("webhook_id", type=int)
def enable(webhook_id: int) -> None:
    """Call the endpoint again (after it was disabled); waiting events go out in order."""
    _write(lambda s, now: hooks.set_enabled(s, webhook_id, True, now=now, actor=CLI))
    click.echo(f"enabled webhook {webhook_id}")


@webhooks.command("disable")
@click.argument("webhook_id", type=int)
def disable(webhook_id: int) -> None:
    """Stop calling the endpoint; its events wait for `enable`."""
    _write(lambda s, now: hooks.set_enabled(s, webhook_id, False, now=now, actor=CLI))
    click.echo(f"disabled webhook {webhook_id}")


@webhooks.command("rotate")
@click.argument("webhook_id", type=int)
@click.option("--overlap-hours", default=24.0, show_default=True, type=float)
def rotate(webhook_id: int, overlap_hours: float) -> None:
    """Print a new secret; the old one signs too for --overlap-hours (two signatures)."""
    overlap = timedelta(hours=overlap_hours)
    secret = _write(lambda s, now: hooks.rotate(s, webhook_id, now=now, actor=CLI, overlap=overlap))
    click.echo(secret)


@webhooks.command("deliveries")
@click.argument("webhook_id", type=int)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--state", type=click.Choice([str(s) for s in DeliveryState]), default=None)
def deliveries(webhook_id: int, limit: int, state: str | None) -> None:
    """The delivery log, newest first: one JSON line per delivery."""
    rt = runtime()
    try:
        with rt.db.session() as s:
            rows = hooks.deliveries(s, webhook_id, limit=limit, state=state)
            lines = [json.dumps(hooks.delivery_json(d, e)) for d, e in rows]
    except LookupError as exc:
        raise click.ClickException(str(exc).strip("'\"")) from exc
    for line in lines:
        click.echo(line)


@webhooks.command("replay")
@click.argument("webhook_id", type=int)
@click.option("--delivery", "delivery_id", type=int, default=None, help="One delivery's id.")
@click.option("--since", default=None, help="Events from this date-time (UTC if no offset).")
@click.option("--until", default=None, help="Events before this date-time.")
def replay(webhook_id: int, delivery_id: int | None, since: str | None, until: str | None) -> None:
    """Send deliveries again (same event ids): one, or those of the events in a time range."""
    start = _moment(since) if since else None
    end = _moment(until) if until else None
    n = _write(
        lambda s, now: hooks.replay(
            s, webhook_id, now=now, actor=CLI, delivery_id=delivery_id, since=start, until=end
        )
    )
    click.echo(f"{n} deliveries queued again")

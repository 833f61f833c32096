"""Reading the audit trail (owners only): the one query `/dashboard/audit` and `npsbot audit`
share. Recording is `bot.storage.audit.record`, called by each action in its own transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.storage.models import AuditEvent

PAGE = 50  # rows per dashboard page (and `npsbot audit`'s default --limit)
MAX_LIMIT = 1000


@dataclass(frozen=True)
class AuditFilter:
    """Which events: an exact actor and target; an action exactly, or a whole area when it has
    no dot ("case" is every "case.*"); days `since` to `until`, both included (UTC)."""

    actor: str | None = None
    action: str | None = None
    target: str | None = None
    since: date | None = None
    until: date | None = None


@dataclass(frozen=True)
class AuditPage:
    events: list[AuditEvent]
    more: bool  # another page follows


def _start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def events(s: Session, f: AuditFilter, limit: int = PAGE, offset: int = 0) -> AuditPage:
    """The events matching `f`, newest first: `limit` of them after `offset`."""
    limit = max(1, min(limit, MAX_LIMIT))
    q = select(AuditEvent)
    if f.actor:
        q = q.where(AuditEvent.actor == f.actor)
    if f.target:
        q = q.where(AuditEvent.target == f.target)
    if f.action and "." in f.action:
        q = q.where(AuditEvent.action == f.action)
    elif f.action:
        q = q.where(AuditEvent.action.startswith(f.action + ".", autoescape=True))
    if f.since:
        q = q.where(AuditEvent.at >= _start(f.since))
    if f.until:
        q = q.where(AuditEvent.at < _start(f.until + timedelta(days=1)))
    q = q.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    rows = list(s.scalars(q.limit(limit + 1).offset(max(offset, 0))))
    return AuditPage(rows[:limit], len(rows) > limit)


def as_json(e: AuditEvent) -> dict[str, Any]:
    """One event as `npsbot audit --json` prints it."""
    return {
        "id": e.id,
        "at": e.at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "actor": e.actor,
        "action": e.action,
        "target": e.target,
        "source": e.source,
        "detail": e.detail,
    }

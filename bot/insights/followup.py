"""Follow-up metrics: how fast staff take and resolve cases, and whether detractors come back.

Cases covered: those whose response the filters select (dates are when the score was given,
as in every report). For each, overall, per store (a purchase metadata key) and per agent (the
assignee):

- time to take: created → taken (`taken_at`, set by the first take, resolve or staff reply; the
  first such case event when it is missing); time to resolve: created → resolved (the last
  resolution of a reopened case; a reopened case not resolved again is unresolved);
- taken / resolved in time: within `STAFF_TAKE_MINUTES` / `STAFF_RESOLVE_HOURS`, the same
  targets escalation uses (`Settings.case_take_target` / `case_resolve_target`). Only decided
  cases count: done, or past the target (late whatever happens next); a young open case is not
  counted either way yet.

Medians and p90s are computed here in Python over the fetched durations (cases are few: one per
unhappy customer), interpolated between the closest ranks like PostgreSQL's `percentile_cont`.

Recovery: resolved detractor cases whose customer answered a survey again after the resolution
(any survey, any channel; the first such answer): how many, their share of the resolved
detractor cases, the average score change, and the list.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from math import ceil, floor
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from bot.config import Settings
from bot.insights.filters import META_KEY_RE, FilterError, Filters, response_conditions
from bot.insights.sql import meta_value
from bot.storage.models import Case, CaseEvent, CaseStatus, Invitation, Response

DEFAULT_STORE_KEY = "store"  # the metadata key the dashboard groups stores by
STAFF_ACTIONS = ("taken", "resolved", "staff_reply")  # case events that are someone taking it


@dataclass(frozen=True)
class Row:
    """One case, as the metrics need it."""

    id: int
    created_at: datetime
    taken_at: datetime | None
    resolved_at: datetime | None
    reopened: bool
    agent_id: str | None
    agent: str | None
    store: str | None
    status: str = "open"


def percentile(values: Iterable[float], q: float) -> float | None:
    """The q-quantile (0–1), linear between the closest ranks (`percentile_cont`); None: none."""
    xs = sorted(values)
    if not xs:
        return None
    pos = (len(xs) - 1) * q
    lo, hi = xs[floor(pos)], xs[ceil(pos)]
    return lo + (hi - lo) * (pos - floor(pos))


def in_time(start: datetime, end: datetime | None, target: timedelta, now: datetime) -> bool | None:
    """Whether a step (take, resolve) ended within `target` of `start`; None while undecided
    (not done, not late yet). Late means older than the target, as escalation counts it."""
    if end is not None:
        return end - start <= target
    return False if now - start > target else None


def _minutes(deltas: Sequence[timedelta]) -> dict[str, Any]:
    mins = [d.total_seconds() / 60 for d in deltas]
    median, p90 = percentile(mins, 0.5), percentile(mins, 0.9)
    return {
        "count": len(mins),
        "median_minutes": None if median is None else round(median, 1),
        "p90_minutes": None if p90 is None else round(p90, 1),
    }


def _share(verdicts: Iterable[bool | None]) -> dict[str, Any]:
    decided = [v for v in verdicts if v is not None]
    within = sum(decided)
    return {
        "within": within,
        "decided": len(decided),
        "share": round(within / len(decided), 4) if decided else None,
    }


# Whether a case (its status, its creation) is past the escalation's deadlines now: the caller
# passes `bot.staff.cases.late` (insights do not import staff), so there is one rule.
Late = Callable[[str, datetime], bool]


def group(
    rows: Sequence[Row],
    now: datetime,
    take: timedelta,
    resolve: timedelta,
    late: Late | None = None,
) -> dict[str, Any]:
    """The metrics of a set of cases."""
    return {
        "cases": len(rows),
        "resolved": sum(r.resolved_at is not None for r in rows),
        "reopened": sum(r.reopened for r in rows),
        # The cases escalation re-alerts (nobody took one in time, or it is not resolved).
        "overdue": sum(
            late(r.status, r.created_at)
            if late is not None
            else r.resolved_at is None and in_time(r.created_at, None, resolve, now) is False
            for r in rows
        ),
        "time_to_take": _minutes([r.taken_at - r.created_at for r in rows if r.taken_at]),
        "time_to_resolve": _minutes([r.resolved_at - r.created_at for r in rows if r.resolved_at]),
        "taken_in_time": _share(in_time(r.created_at, r.taken_at, take, now) for r in rows),
        "resolved_in_time": _share(
            in_time(r.created_at, r.resolved_at, resolve, now) for r in rows
        ),
    }


def _groups(
    rows: Sequence[Row], key: Callable[[Row], str | None], metrics: Callable[[list[Row]], Any]
) -> list[tuple[str | None, list[Row], dict[str, Any]]]:
    per: dict[str | None, list[Row]] = defaultdict(list)
    for r in rows:
        per[key(r)].append(r)
    out = [(k, rs, metrics(rs)) for k, rs in per.items()]
    out.sort(key=lambda g: (-len(g[1]), g[0] is None, g[0] or ""))  # biggest first, none last
    return out


def cases(s: Session, f: Filters, store_key: str = DEFAULT_STORE_KEY) -> list[Row]:
    """The cases of the responses `f` selects, with their store and first staff action."""
    first_action = (
        select(func.min(CaseEvent.at))
        .where(CaseEvent.case_id == Case.id, CaseEvent.kind.in_(STAFF_ACTIONS))
        .correlate(Case)
        .scalar_subquery()
    )
    stmt = (
        select(
            Case.id,
            Case.created_at,
            func.coalesce(Case.taken_at, first_action),
            Case.resolved_at,
            Case.reopened_at,
            Case.assignee_id,
            Case.assignee,
            meta_value(store_key),
            Case.status,
        )
        .select_from(Case)
        .join(Response, Response.id == Case.response_id)
        .join(Invitation, Invitation.id == Response.invitation_id)
        .where(*response_conditions(s, f))
        .order_by(Case.id)
    )
    return [
        Row(
            id=i,
            created_at=created,
            taken_at=taken,
            # A resolved case has `resolved_at`; a reopened one has it cleared (`cases.step`).
            resolved_at=resolved,
            reopened=reopened is not None,
            agent_id=agent_id,
            agent=agent,
            store=None if store is None else str(store),
            status=status,
        )
        for i, created, taken, resolved, reopened, agent_id, agent, store, status in s.execute(stmt)
    ]


def recovery(s: Session, f: Filters, limit: int = 50) -> dict[str, Any]:
    """Resolved detractor cases whose customer answered again after the resolution."""
    later = aliased(Response)
    base = (
        select(Case.id)
        .select_from(Case)
        .join(Response, Response.id == Case.response_id)
        .where(
            Case.status == CaseStatus.RESOLVED,
            Response.category == "detractor",
            *response_conditions(s, f),
        )
    )
    if f.needs_invitation:
        base = base.join(Invitation, Invitation.id == Response.invitation_id)
    resolved = int(s.scalar(select(func.count()).select_from(base.subquery())) or 0)
    stmt = (
        base.add_columns(Response.score, Response.scored_at, later.score, later.scored_at)
        .join(
            later,
            and_(
                later.contact_id == Case.contact_id,
                later.scored_at > Case.resolved_at,
                later.id != Case.response_id,
            ),
        )
        .order_by(Case.id, later.scored_at, later.id)
    )
    first: dict[int, dict[str, Any]] = {}
    for case_id, before, before_at, after, after_at in s.execute(stmt):
        if case_id in first:
            continue  # the first answer after the resolution is the one that tells
        first[case_id] = {
            "case_id": case_id,
            "before": before,
            "after": after,
            "change": after - before,
            "days_between": round((after_at - before_at).total_seconds() / 86400, 1),
            "answered_at": after_at.isoformat(),
        }
    items = sorted(first.values(), key=lambda i: i["answered_at"], reverse=True)
    changes = [i["change"] for i in items]
    return {
        "resolved_detractors": resolved,
        "answered_again": len(items),
        "share": round(len(items) / resolved, 4) if resolved else None,
        "average_change": round(sum(changes) / len(changes), 1) if changes else None,
        "items": items[:limit],
    }


def report(
    s: Session,
    f: Filters,
    now: datetime,
    settings: Settings,
    store_key: str = DEFAULT_STORE_KEY,
    limit: int = 50,
    late: Late | None = None,
) -> dict[str, Any]:
    """`GET /api/v1/reports/followup` and the dashboard's follow-up card."""
    if not META_KEY_RE.match(store_key):
        raise FilterError("by_meta", f"{store_key!r} is not a metadata key (letters, digits, _ -)")
    take, resolve = settings.case_take_target, settings.case_resolve_target
    rows = cases(s, f, store_key)

    def metrics(rs: Sequence[Row]) -> dict[str, Any]:
        return group(rs, now, take, resolve, late)

    by_agent = []
    for agent_id, rs, m in _groups(rows, lambda r: r.agent_id, metrics):
        names = [r.agent for r in rs if r.agent]
        by_agent.append({"agent": agent_id, "name": names[-1] if names else None, **m})
    return {
        "take_target_minutes": int(take.total_seconds() // 60),
        "resolve_target_hours": int(resolve.total_seconds() // 3600),
        "store_key": store_key,
        "overall": metrics(rows),
        "by_store": [{"value": k, **m} for k, _, m in _groups(rows, lambda r: r.store, metrics)],
        "by_agent": by_agent,
        "recovery": recovery(s, f, limit),
        "filters": f.to_dict(),
    }

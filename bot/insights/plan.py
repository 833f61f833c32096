"""How a report reads the rollup: cut its period into rolled-up days (and months) and raw
time ranges, then sum both.

Aggregates read daily counts for the whole UTC days the rollup covers, and the raw tables for
the rest: the partial days at the edges of `from`/`to`, the days since the last refresh (`upto`
onwards: today at least), and any rolled-up day with a row changed since the refresh
(`updated_at` at or after `checked_at`). The sum is what the raw query alone answers.

Filters that hit the rollup: dates, survey, channel, language, category, and the metadata key
`store` (one value). `has_comment` and any other metadata key read the raw tables. Breakdowns by
channel, survey, language and store hit it too; by another metadata key, raw.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, timedelta
from typing import Any

from sqlalchemy import func, select, union_all
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from bot.insights.filters import Filters, category_of, scope
from bot.insights.rollup import ROLLUP_KEY, dirty_sent, rollup_view
from bot.insights.sql import DayRange, TimeRange, as_date, in_ranges, midnight, next_month
from bot.storage.models import NpsStoreMonth

# Above this many raw ranges, one SELECT reads them all (an OR of the ranges).
MAX_RAW_QUERIES = 8


@dataclass(frozen=True)
class Split:
    """Which parts of a period come from the raw tables and which from the rollup."""

    raw: tuple[TimeRange, ...]  # [start, end) times (None: unbounded)
    days: tuple[DayRange, ...]  # [first, last) days read from a daily rollup
    months: tuple[date, ...] = ()  # whole months read from `nps_monthly_store`


Plan = tuple[Split, str | None]  # the split, and the store value the filter asks for


def _rollup_store(f: Filters) -> tuple[bool, str | None]:
    """Can the rollup answer `f`'s metadata filter, and which store value does it ask for?"""
    if f.has_comment is not None:
        return False, None
    keys = {k for k, _ in f.metadata}
    values = {v for _, v in f.metadata}
    if not keys:
        return True, None
    if keys == {ROLLUP_KEY} and len(values) == 1:
        return True, values.pop()
    return False, None


def _split(
    f: Filters, upto: date, dirty: frozenset[date], *, months_from: date | None = None
) -> Split | None:
    """Cut `f`'s period into raw and rolled-up parts (None: nothing whole to roll up).

    `months_from`: the first month in the monthly table; whole months from it on without a
    changed day are read there, not day by day."""
    start = f.start.astimezone(UTC) if f.start else None
    end = f.end.astimezone(UTC) if f.end else None
    lo = None  # the first whole day
    if start is not None:
        lo = start.date() if start == midnight(start.date()) else start.date() + timedelta(1)
    hi = upto if end is None else min(end.date(), upto)
    if lo is not None and lo >= hi:
        return None
    raw: list[TimeRange] = []
    if start is not None and lo is not None and start < midnight(lo):
        raw.append((start, midnight(lo)))
    if end is None or end > midnight(hi):
        raw.append((midnight(hi), end))
    holes = sorted(d for d in dirty if (lo is None or d >= lo) and d < hi)
    raw += [(midnight(d), midnight(d + timedelta(1))) for d in holes]
    months: list[date] = []
    if months_from is not None:
        base = months_from if lo is None else max(lo, months_from)
        m = base if base.day == 1 else next_month(base)
        # A month's row sums its rolled-up days (those before `upto`): usable when the period
        # covers all of them, the current month included.
        while m < hi and min(next_month(m), upto) <= hi:
            if not any(m <= d < next_month(m) for d in holes):
                months.append(m)
            m = next_month(m)
    cuts = sorted(
        [(d, d + timedelta(1)) for d in holes] + [(m, min(next_month(m), hi)) for m in months]
    )
    days: list[DayRange] = []
    cur: date | None = lo
    for a, b in cuts:
        if cur is None or cur < a:
            days.append((cur, a))
        cur = b
    if cur is None or cur < hi:
        days.append((cur, hi))
    return Split(raw=tuple(raw), days=tuple(days), months=tuple(months))


def plan_for(s: Session, f: Filters, *, sent: bool = False, by_store: bool = False) -> Plan | None:
    """How to read `f` (None: all raw) and the store it filters on, if any.

    `sent`: for the response rate (days of `sent_at`; it ignores category and has_comment).
    `by_store`: a breakdown by store, which reads whole months from the monthly table."""
    ok, store = _rollup_store(Filters(metadata=f.metadata) if sent else f)
    if not ok:
        return None
    view = rollup_view(s)
    if view is None:
        return None
    months_from = None
    if by_store:
        months_from = s.scalar(select(func.min(NpsStoreMonth.day)))
        months_from = as_date(months_from) if months_from is not None else None
    dirty = dirty_sent(s, view) if sent else view.dirty
    split = _split(f, view.upto, dirty, months_from=months_from)
    return None if split is None else (split, store)


def _rollup_conditions(
    s: Session, f: Filters, table: Any, store: str | None, *, sent: bool = False
) -> list[ColumnElement[bool]]:
    """`f`'s filters on a rollup table (see `plan_for` for which filters it can answer)."""
    conds: list[ColumnElement[bool]] = []
    if (ids := scope(s, f)) is not None:
        conds.append(table.survey_id.in_(ids))
    if f.channels:
        conds.append(table.channel.in_(f.channels))
    if f.languages:
        conds.append(table.language.in_(f.languages))
    if f.categories and not sent:
        conds.append(table.score.in_([i for i in range(11) if category_of(i) in f.categories]))
    if store is not None:
        conds += [table.store == store, table.store_is_text.is_(True)]
    return conds


def rolled(
    s: Session,
    f: Filters,
    plan: Plan,
    narrow: Any,
    wide: Any,
    columns: Sequence[Any],
    *,
    sent: bool = False,
) -> list[Any]:
    """SELECTs (for `fetch`) of `columns` (names of the rollup table's columns, or
    `sum:<column>`) grouped by the plain ones, over the plan's rolled-up days (and months for
    `nps_monthly_store`)."""
    split, store = plan
    use_store = store is not None or any(c == "store" for c in columns)
    out: list[Any] = []
    parts: list[tuple[Any, Sequence[DayRange]]] = []
    if split.days:
        parts.append((wide if use_store else narrow, split.days))
    if split.months:
        parts.append((NpsStoreMonth, [(m, next_month(m)) for m in split.months]))
    for table, ranges in parts:
        cols = [
            func.sum(getattr(table, c[4:])) if c.startswith("sum:") else getattr(table, c)
            for c in columns
        ]
        keys = [getattr(table, c) for c in columns if not c.startswith("sum:")]
        stmt = (
            select(*cols)
            .where(in_ranges(table.day, ranges), *_rollup_conditions(s, f, table, store, sent=sent))
            .group_by(*keys)
        )
        out.append(stmt)
    return out


# Rebuilding: per day, delete the rollup rows and insert them again from the raw tables.


def raw(stmt: Any, column: Any, plan: Plan | None) -> list[Any]:
    """`stmt` over the plan's raw time ranges (all of them without a plan), as SELECTs for
    `fetch`."""
    if plan is None:
        return [stmt]
    ranges = plan[0].raw
    if len(ranges) > MAX_RAW_QUERIES:
        return [stmt.where(in_ranges(column, ranges))]
    # One SELECT per range: each an index-only range scan (an OR of the ranges would read the
    # heap). The caller sums the groups.
    return [stmt.where(in_ranges(column, [r])) for r in ranges]


def fetch(s: Session, parts: Sequence[Any]) -> list[Any]:
    """The rows of every SELECT (of the same columns) in one round trip."""
    if not parts:
        return []
    both: Any = parts[0] if len(parts) == 1 else union_all(*parts)
    return list(s.execute(both).all())

"""What the reports and the rollup share: the UTC day of a timestamp, a response's themes as
rows, the answered rule of the response rate, time ranges, and the calendar of periods."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Date, and_, cast, false, func, literal_column, or_, true
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from bot.storage.models import Invitation, InvitationState, Response

# An invitation in these states has a response (see `answered_anyway` for the others).
ANSWERED_STATES = (InvitationState.AWAITING_REASON, InvitationState.COMPLETED)

TimeRange = tuple[datetime | None, datetime | None]  # [start, end); None: unbounded
DayRange = tuple[date | None, date | None]


def answered_anyway() -> ColumnElement[bool]:
    """A response whose invitation moved past the answered states: a late answer, or a score
    before the customer opted out. Both count as answered in the response rate."""
    return or_(Response.late.is_(True), Invitation.state == InvitationState.OPTED_OUT)


def day_of(s: Session, column: Any) -> ColumnElement[Any]:
    """The UTC day of a timestamp column, as the trend groups by and the rollup counts."""
    if s.get_bind().dialect.name == "postgresql":
        # Literal 'UTC': the expression must match the statistics object of migration 0003.
        return cast(func.timezone(literal_column("'UTC'"), column), Date)
    return func.date(column)  # SQLite stores UTC text: its first 10 chars


def theme_elements(s: Session) -> Any:
    """`responses.themes` as a table of one `value` column (join it `ON true`)."""
    if s.get_bind().dialect.name == "postgresql":
        return func.jsonb_array_elements_text(Response.themes).table_valued("value")
    return func.json_each(Response.themes).table_valued("value")


def meta_value(key: str) -> ColumnElement[Any]:
    """A purchase metadata value as text, as breakdowns group by and the rollup stores it."""
    value: ColumnElement[Any] = Invitation.meta[key].as_string()
    return value


def in_ranges(column: Any, ranges: Sequence[tuple[Any, Any]]) -> ColumnElement[bool]:
    """`column` in any of the [start, end) ranges (None: unbounded); no range: false."""
    parts: list[ColumnElement[bool]] = []
    for a, b in ranges:
        cond: list[ColumnElement[bool]] = []
        if a is not None:
            cond.append(column >= a)
        if b is not None:
            cond.append(column < b)
        parts.append(and_(*cond) if cond else true())
    return or_(*parts) if parts else false()


def as_date(value: Any) -> date:
    """A day as the database returns it (a date, or ISO text on SQLite)."""
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def months_between(a: date, b: date) -> list[date]:
    """The first days of the months that [a, b) touches."""
    out, m = [], a.replace(day=1)
    while m < b:
        out.append(m)
        m = next_month(m)
    return out


def day_ranges(days: Iterable[date]) -> list[tuple[date, date]]:
    """Consecutive days merged: [first, last + 1) ranges."""
    out: list[tuple[date, date]] = []
    for d in sorted(set(days)):
        if out and out[-1][1] == d:
            out[-1] = (out[-1][0], d + timedelta(1))
        else:
            out.append((d, d + timedelta(1)))
    return out


def time_ranges(days: Sequence[tuple[date, date]]) -> list[TimeRange]:
    return [(midnight(a), midnight(b)) for a, b in days]


def period_start(day: date, interval: str) -> date:
    if interval == "week":
        return day - timedelta(days=day.weekday())  # ISO weeks start on Monday
    if interval == "month":
        return day.replace(day=1)
    return day


def next_period(start: date, interval: str) -> date:
    if interval == "week":
        return start + timedelta(days=7)
    if interval == "month":
        return next_month(start)
    return start + timedelta(days=1)

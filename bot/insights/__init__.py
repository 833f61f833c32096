"""Insights: NPS, trend, themes, breakdowns and response lists, as plain queries over a Session.

Every aggregate is computed in SQL (`GROUP BY` score, category, period or theme) and turned into
numbers with `scoring.nps` / `scoring.compare_nps`; nothing here recomputes statistics. The same
functions serve the reporting API, the dashboard, `npsbot report` and `npsbot export`.

Filters come from query arguments (`parse_filters`); a bad one raises `FilterError` naming the
parameter. Any argument that is not a reserved name (or `meta.<key>`) filters on the purchase
metadata, e.g. `store=centro` matches invitations whose metadata has `"store": "centro"`.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

from sqlalchemy import (
    Date,
    Select,
    and_,
    cast,
    delete,
    false,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    true,
    type_coerce,
    union,
    union_all,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from bot.storage.db import Database
from bot.storage.models import (
    Case,
    CaseStatus,
    Contact,
    Invitation,
    InvitationState,
    NpsDay,
    NpsStoreDay,
    NpsStoreMonth,
    RateDay,
    RateStoreDay,
    Response,
    RollupState,
    Survey,
    ThemeDay,
    ThemeStoreDay,
    utcnow,
)
from scoring import NpsResult, classify, compare_nps, nps

log = logging.getLogger(__name__)

CATEGORIES = ("promoter", "passive", "detractor")
# An invitation in these states has a response (see `response_rate` for the others).
ANSWERED_STATES = (InvitationState.AWAITING_REASON, InvitationState.COMPLETED)
INTERVALS = ("day", "week", "month")
CHANNEL_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
META_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
# Arguments with a meaning of their own; any other name is a metadata key.
RESERVED = frozenset(
    {
        "from",
        "to",
        "survey",
        "channel",
        "language",
        "category",
        "has_comment",
        "interval",
        "cursor",
        "limit",
        "by",
        "format",
        "tab",
    }
)
MAX_LIMIT = 500
MAX_PERIODS = 1000


class FilterError(ValueError):
    """A query argument is wrong; `param` names it."""

    def __init__(self, param: str, reason: str) -> None:
        super().__init__(f"{param}: {reason}")
        self.param = param
        self.reason = reason


@dataclass(frozen=True)
class Filters:
    """Which responses a report covers. Dates: `start` inclusive, `end` exclusive (UTC)."""

    start: datetime | None = None
    end: datetime | None = None
    surveys: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    has_comment: bool | None = None
    metadata: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The filters as applied, echoed in every report (a misspelt key shows up here)."""
        return {
            "from": self.start.isoformat() if self.start else None,
            "to": self.end.isoformat() if self.end else None,
            "survey": list(self.surveys),
            "channel": list(self.channels),
            "language": list(self.languages),
            "category": list(self.categories),
            "has_comment": self.has_comment,
            "metadata": dict(self.metadata),
        }

    @property
    def needs_invitation(self) -> bool:
        return bool(self.languages or self.metadata)


Args = Mapping[str, str | Sequence[str]]


def _values(args: Args, name: str) -> list[str]:
    raw = args.get(name)
    if raw is None:
        return []
    items = [raw] if isinstance(raw, str) else list(raw)
    out: list[str] = []
    for item in items:
        out += [v.strip() for v in item.split(",") if v.strip()]
    return out


def _one(args: Args, name: str) -> str | None:
    values = _values(args, name)
    if len(values) > 1:
        raise FilterError(name, "give one value")
    return values[0] if values else None


def parse_time(value: str, param: str, *, end: bool = False) -> datetime:
    """`YYYY-MM-DD` (a whole day: `to` includes it) or an RFC 3339 timestamp with offset."""
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime.combine(day, time(), tzinfo=UTC)
            return moment + timedelta(days=1) if end else moment
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise FilterError(
            param, f"{value!r} is not a date (YYYY-MM-DD) or an RFC 3339 timestamp"
        ) from None
    if parsed.tzinfo is None:
        raise FilterError(param, f"{value!r} needs a UTC offset, e.g. 2026-11-22T15:00:00Z")
    return parsed.astimezone(UTC)


def parse_filters(args: Args, *, allow: Iterable[str] = ()) -> Filters:
    """Filters from query arguments (single values, lists, or comma-separated values).

    `allow` names extra arguments the caller reads itself (they are not metadata keys).
    """
    start = _one(args, "from")
    end = _one(args, "to")
    f_start = parse_time(start, "from") if start else None
    f_end = parse_time(end, "to", end=True) if end else None
    if f_start and f_end and f_start >= f_end:
        raise FilterError("to", "must be after `from`")
    channels = tuple(v.lower() for v in _values(args, "channel"))
    for ch in channels:
        if not CHANNEL_RE.match(ch):
            raise FilterError("channel", f"{ch!r} is not a channel name")
    languages = tuple(v.lower() for v in _values(args, "language"))
    for lang in languages:
        if not re.match(r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$", lang):
            raise FilterError("language", f"{lang!r} is not a language code (es, en, pt)")
    categories = tuple(v.lower() for v in _values(args, "category"))
    for cat in categories:
        if cat not in CATEGORIES:
            raise FilterError("category", f"{cat!r}: use promoter, passive or detractor")
    has_comment: bool | None = None
    hc = _one(args, "has_comment")
    if hc is not None:
        if hc.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise FilterError("has_comment", "use true or false")
        has_comment = hc.lower() in ("true", "1", "yes")
    meta: list[tuple[str, str]] = []
    allowed = RESERVED | set(allow)
    for name in args:
        if name in allowed:
            continue
        key = name[5:] if name.startswith("meta.") else name
        if not META_KEY_RE.match(key):
            raise FilterError(name, "unknown parameter (metadata keys are letters, digits, _ -)")
        values = _values(args, name)
        if len(values) != 1:
            raise FilterError(name, "give one value for a metadata filter")
        meta.append((key, values[0]))
    return Filters(
        start=f_start,
        end=f_end,
        surveys=tuple(_values(args, "survey")),
        channels=channels,
        languages=languages,
        categories=categories,
        has_comment=has_comment,
        metadata=tuple(sorted(meta)),
    )


def parse_limit(args: Args, default: int = 50) -> int:
    raw = _one(args, "limit")
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise FilterError("limit", f"an integer from 1 to {MAX_LIMIT}")
    return int(raw)


def parse_interval(args: Args, default: str = "week") -> str:
    value = (_one(args, "interval") or default).lower()
    if value not in INTERVALS:
        raise FilterError("interval", f"{value!r}: use day, week or month")
    return value


# --- building queries ---------------------------------------------------------------------------


def _survey_ids(s: Session, keys: Sequence[str]) -> list[int]:
    rows = s.execute(select(Survey.key, Survey.id).where(Survey.key.in_(keys))).all()
    found = {k: i for k, i in rows}
    missing = [k for k in keys if k not in found]
    if missing:
        known = ", ".join(s.scalars(select(Survey.key).order_by(Survey.key))) or "none"
        raise FilterError("survey", f"unknown survey {missing[0]!r} (known: {known})")
    return [found[k] for k in keys]


def _meta_conditions(s: Session, f: Filters, few: bool = False) -> list[ColumnElement[bool]]:
    """`few`: the rows are already few (a few raw days of a rollup plan): check each joined
    invitation rather than let PostgreSQL start from the GIN index (every invitation of the
    store, all time)."""
    postgres = s.get_bind().dialect.name == "postgresql"
    conds: list[ColumnElement[bool]] = []
    for key, value in f.metadata:
        if postgres:
            # Containment uses the GIN index on invitations.metadata; `coalesce` (the column is
            # never NULL) hides it from the planner, same answer.
            meta = (
                func.coalesce(Invitation.meta, literal_column("'{}'::jsonb"))
                if few
                else Invitation.meta
            )
            conds.append(type_coerce(meta, JSONB).contains({key: value}))
        else:
            conds.append(Invitation.meta[key].as_string() == value)
    return conds


def response_conditions(s: Session, f: Filters, few: bool = False) -> list[ColumnElement[bool]]:
    """WHERE conditions on `responses` (join `invitations` when `f.needs_invitation`)."""
    conds: list[ColumnElement[bool]] = []
    if f.start:
        conds.append(Response.scored_at >= f.start)
    if f.end:
        conds.append(Response.scored_at < f.end)
    if f.surveys:
        conds.append(Response.survey_id.in_(_survey_ids(s, f.surveys)))
    if f.channels:
        conds.append(Response.channel.in_(f.channels))
    if f.categories:
        conds.append(Response.category.in_(f.categories))
    if f.has_comment is True:
        conds.append(and_(Response.comment.is_not(None), Response.comment != ""))
    elif f.has_comment is False:
        conds.append(or_(Response.comment.is_(None), Response.comment == ""))
    if f.languages:
        conds.append(Invitation.language.in_(f.languages))
    conds += _meta_conditions(s, f, few)
    return conds


_S = TypeVar("_S", bound=Select[*tuple[Any, ...]])


def filtered(s: Session, stmt: _S, f: Filters, few: bool = False) -> _S:
    """`stmt` (selecting from responses) restricted to `f`."""
    if f.needs_invitation:
        stmt = stmt.join(Invitation, Invitation.id == Response.invitation_id)
    return stmt.where(*response_conditions(s, f, few))


def count_responses(s: Session, f: Filters) -> int:
    """The plain `COUNT(*)` over the same filter (the benchmark's yardstick)."""
    return int(s.scalar(filtered(s, select(func.count()).select_from(Response), f)) or 0)


def category_of(score: int) -> str:
    """The group of a 0–10 score (the same rule as `scoring.classify`)."""
    return str(classify(int(score)))


def _result(counts: Mapping[str, int]) -> NpsResult:
    return nps(
        promoters=counts.get("promoter", 0),
        passives=counts.get("passive", 0),
        detractors=counts.get("detractor", 0),
    )


def _round(x: float | None, digits: int = 1) -> float | None:
    return None if x is None else round(x, digits)


def result_dict(r: NpsResult) -> dict[str, Any]:
    """An `NpsResult` as the API shows it (NPS points to 0.1, shares to 0.0001)."""
    return {
        "nps": _round(r.score),
        "margin_of_error": _round(r.margin_of_error),
        "low": _round(r.low),
        "high": _round(r.high),
        "responses": r.n,
        "promoters": r.promoters,
        "passives": r.passives,
        "detractors": r.detractors,
        "promoter_share": round(r.promoter_share, 4),
        "passive_share": round(r.passive_share, 4),
        "detractor_share": round(r.detractor_share, 4),
        "small_sample": r.small_sample,
    }


# --- rollup -------------------------------------------------------------------------------------
# Aggregates read daily counts (tables `nps_daily`, `themes_daily`, `rates_daily` and their
# `_store` variants, see bot/models.py) for the whole UTC days the rollup covers, and the raw
# tables for the rest: the partial days at the edges of `from`/`to`, the days since the last
# refresh (`upto` onwards: today at least), and any rolled-up day with a row changed since the
# refresh (`updated_at` at or after `checked_at`). The sum is what the raw query alone answers.
#
# Filters that hit the rollup: dates, survey, channel, language, category, and the metadata key
# `store` (one value). `has_comment` and any other metadata key read the raw tables. Breakdowns by
# channel, survey, language and store hit it too; by another metadata key, raw.

ROLLUP_KEY = "store"  # the metadata key the rollup splits by (the dashboard's breakdown)
# How long a transaction that writes a response may stay open (plus clock skew between hosts):
# a refresh trusts only changes older than this to be in its snapshot.
ROLLUP_MARGIN = timedelta(minutes=10)
ROLLUP_INTERVAL = 60.0  # seconds between the dispatcher's refreshes
ROLLUP_CHUNK_DAYS = 31  # days one scheduled refresh adds (a backfill spreads over a few minutes)

_updated_at: ColumnElement[datetime] = Response.__table__.c.updated_at
_Range = tuple[datetime | None, datetime | None]
_DayRange = tuple[date | None, date | None]


@dataclass(frozen=True)
class RollupView:
    """What one report transaction may read from the rollup (cached in `Session.info`)."""

    upto: date  # days before this one are rolled up
    checked_at: datetime  # rows changed since may be missing from the rollup
    dirty: frozenset[date]  # ... so these days are read raw (responses changed since)


@dataclass(frozen=True)
class Split:
    """Which parts of a period come from the raw tables and which from the rollup."""

    raw: tuple[_Range, ...]  # [start, end) times (None: unbounded)
    days: tuple[_DayRange, ...]  # [first, last) days read from a daily rollup
    months: tuple[date, ...] = ()  # whole months read from `nps_monthly_store`


def _day_of(s: Session, column: Any) -> ColumnElement[Any]:
    """The UTC day of a timestamp column, as the trend groups by and the rollup counts."""
    if s.get_bind().dialect.name == "postgresql":
        # Literal 'UTC': the expression must match the statistics object of migration 0003.
        return cast(func.timezone(literal_column("'UTC'"), column), Date)
    return func.date(column)  # SQLite stores UTC text: its first 10 chars


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _store_value(s: Session) -> ColumnElement[Any]:
    # The same expression as the raw breakdown by a metadata key groups by.
    value: ColumnElement[Any] = Invitation.meta[ROLLUP_KEY].as_string()
    return value


def _store_is_text(s: Session) -> ColumnElement[bool]:
    """Can a `store=` filter match the row? The same rule as `_meta_conditions`: on PostgreSQL
    containment matches JSON strings only; on SQLite the value cast to text is compared."""
    if s.get_bind().dialect.name == "postgresql":
        kind = func.jsonb_typeof(type_coerce(Invitation.meta, JSONB)[ROLLUP_KEY])
        return func.coalesce(kind == "string", false())
    return true()


def raw_only(s: Session) -> None:
    """Make this session's reports read the raw tables only (the tests compare both)."""
    s.info["npsbot_rollup"] = False


def rollup_view(s: Session) -> RollupView | None:
    """The rollup's extent and the days to read raw; None before the first refresh."""
    cached = s.info.get("npsbot_rollup")
    if cached is not None:
        return cached or None
    # The state and the changed days in one round trip (no row: no state; NULL day: none).
    day = _day_of(s, Response.scored_at)
    stmt = (
        select(RollupState.upto, RollupState.checked_at, day)
        .select_from(RollupState)
        .outerjoin(Response, _updated_at >= RollupState.checked_at)
        .where(RollupState.id == 1)
        .distinct()
    )
    rows = s.execute(stmt).all()
    if not rows or rows[0][0] is None or rows[0][1] is None:
        s.info["npsbot_rollup"] = False
        return None
    upto, checked_at = rows[0][0], rows[0][1]
    view = RollupView(
        upto=upto,
        checked_at=checked_at,
        dirty=frozenset(d for d in (_as_date(r[2]) for r in rows if r[2] is not None) if d < upto),
    )
    s.info["npsbot_rollup"] = view
    return view


def dirty_sent(s: Session, view: RollupView) -> frozenset[date]:
    """The days (of `sent_at`) the response rate reads raw; asked only by the rate."""
    cached = s.info.get("npsbot_rollup_sent")
    if cached is None:
        cached = frozenset(_dirty_sent_days(s, view.checked_at, view.upto))
        s.info["npsbot_rollup_sent"] = cached
    return cached


def _dirty_days(s: Session, since: datetime, upto: date) -> set[date]:
    day = _day_of(s, Response.scored_at)
    stmt = select(day).where(_updated_at >= since).distinct()
    return {d for d in map(_as_date, s.scalars(stmt)) if d < upto}


def _dirty_sent_days(s: Session, since: datetime, upto: date) -> set[date]:
    day = _day_of(s, Invitation.sent_at)
    changed = select(day).where(Invitation.updated_at >= since, Invitation.sent_at.is_not(None))
    # A late answer or an answer after opting out counts without the invitation changing.
    answered = (
        select(day)
        .select_from(Response)
        .join(Invitation, Invitation.id == Response.invitation_id)
        .where(_updated_at >= since, Invitation.sent_at.is_not(None))
    )
    days = set(s.scalars(union(changed, answered)))
    return {d for d in map(_as_date, days) if d < upto}


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
        lo = start.date() if start == _midnight(start.date()) else start.date() + timedelta(1)
    hi = upto if end is None else min(end.date(), upto)
    if lo is not None and lo >= hi:
        return None
    raw: list[_Range] = []
    if start is not None and lo is not None and start < _midnight(lo):
        raw.append((start, _midnight(lo)))
    if end is None or end > _midnight(hi):
        raw.append((_midnight(hi), end))
    holes = sorted(d for d in dirty if (lo is None or d >= lo) and d < hi)
    raw += [(_midnight(d), _midnight(d + timedelta(1))) for d in holes]
    months: list[date] = []
    if months_from is not None:
        base = months_from if lo is None else max(lo, months_from)
        m = base if base.day == 1 else _next_month(base)
        # A month's row sums its rolled-up days (those before `upto`): usable when the period
        # covers all of them, the current month included.
        while m < hi and min(_next_month(m), upto) <= hi:
            if not any(m <= d < _next_month(m) for d in holes):
                months.append(m)
            m = _next_month(m)
    cuts = sorted(
        [(d, d + timedelta(1)) for d in holes] + [(m, min(_next_month(m), hi)) for m in months]
    )
    days: list[_DayRange] = []
    cur: date | None = lo
    for a, b in cuts:
        if cur is None or cur < a:
            days.append((cur, a))
        cur = b
    if cur is None or cur < hi:
        days.append((cur, hi))
    return Split(raw=tuple(raw), days=tuple(days), months=tuple(months))


def _in_ranges(column: Any, ranges: Sequence[tuple[Any, Any]]) -> ColumnElement[bool]:
    parts: list[ColumnElement[bool]] = []
    for a, b in ranges:
        cond: list[ColumnElement[bool]] = []
        if a is not None:
            cond.append(column >= a)
        if b is not None:
            cond.append(column < b)
        parts.append(and_(*cond) if cond else true())
    return or_(*parts) if parts else false()


def _plan(
    s: Session, f: Filters, *, sent: bool = False, by_store: bool = False
) -> tuple[Split, str | None] | None:
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
        months_from = _as_date(months_from) if months_from is not None else None
    dirty = dirty_sent(s, view) if sent else view.dirty
    split = _split(f, view.upto, dirty, months_from=months_from)
    return None if split is None else (split, store)


def _rollup_conditions(
    s: Session, f: Filters, table: Any, store: str | None, *, sent: bool = False
) -> list[ColumnElement[bool]]:
    """`f`'s filters on a rollup table (see `_plan` for which filters it can answer)."""
    conds: list[ColumnElement[bool]] = []
    if f.surveys:
        conds.append(table.survey_id.in_(_survey_ids(s, f.surveys)))
    if f.channels:
        conds.append(table.channel.in_(f.channels))
    if f.languages:
        conds.append(table.language.in_(f.languages))
    if f.categories and not sent:
        conds.append(table.score.in_([i for i in range(11) if category_of(i) in f.categories]))
    if store is not None:
        conds += [table.store == store, table.store_is_text.is_(True)]
    return conds


def _rolled(
    s: Session,
    f: Filters,
    plan: tuple[Split, str | None],
    narrow: Any,
    wide: Any,
    columns: Sequence[Any],
    *,
    sent: bool = False,
) -> list[Any]:
    """SELECTs (for `_fetch`) of `columns` (names of the rollup table's columns, or
    `sum:<column>`) grouped by the plain ones, over the plan's rolled-up days (and months for
    `nps_monthly_store`)."""
    split, store = plan
    use_store = store is not None or any(c == "store" for c in columns)
    out: list[Any] = []
    parts: list[tuple[Any, Sequence[_DayRange]]] = []
    if split.days:
        parts.append((wide if use_store else narrow, split.days))
    if split.months:
        parts.append((NpsStoreMonth, [(m, _next_month(m)) for m in split.months]))
    for table, ranges in parts:
        cols = [
            func.sum(getattr(table, c[4:])) if c.startswith("sum:") else getattr(table, c)
            for c in columns
        ]
        keys = [getattr(table, c) for c in columns if not c.startswith("sum:")]
        stmt = (
            select(*cols)
            .where(
                _in_ranges(table.day, ranges), *_rollup_conditions(s, f, table, store, sent=sent)
            )
            .group_by(*keys)
        )
        out.append(stmt)
    return out


# Rebuilding: per day, delete the rollup rows and insert them again from the raw tables.


def _day_ranges(days: Iterable[date]) -> list[tuple[date, date]]:
    """Consecutive days merged: [first, last + 1) ranges."""
    out: list[tuple[date, date]] = []
    for d in sorted(set(days)):
        if out and out[-1][1] == d:
            out[-1] = (out[-1][0], d + timedelta(1))
        else:
            out.append((d, d + timedelta(1)))
    return out


def _time_ranges(days: Sequence[tuple[date, date]]) -> list[_Range]:
    return [(_midnight(a), _midnight(b)) for a, b in days]


def _rebuild_responses(s: Session, ranges: Sequence[tuple[date, date]]) -> None:
    when = _in_ranges(Response.scored_at, _time_ranges(ranges))
    day = _day_of(s, Response.scored_at)
    dims = [day, Response.survey_id, Response.channel, Invitation.language]
    store = [_store_value(s), _store_is_text(s)]
    base = select().select_from(Response).join(Invitation, Invitation.id == Response.invitation_id)
    tables: list[tuple[Any, list[Any]]] = [(NpsDay, []), (NpsStoreDay, store)]
    for table, extra in tables:
        s.execute(delete(table).where(_in_ranges(table.day, ranges)))
        cols = [*dims, *extra, Response.score]
        names = ["day", "survey_id", "channel", "language", "store", "store_is_text"][
            : 4 + len(extra)
        ]
        stmt = base.add_columns(*cols, func.count()).where(when).group_by(*cols)
        s.execute(insert(table).from_select([*names, "score", "responses"], stmt))
    if s.get_bind().dialect.name == "postgresql":
        elements = func.jsonb_array_elements_text(Response.themes).table_valued("value")
    else:
        elements = func.json_each(Response.themes).table_valued("value")
    tables = [(ThemeDay, []), (ThemeStoreDay, store)]
    for table, extra in tables:
        s.execute(delete(table).where(_in_ranges(table.day, ranges)))
        cols = [*dims, *extra, elements.c.value, Response.score]
        names = ["day", "survey_id", "channel", "language", "store", "store_is_text"][
            : 4 + len(extra)
        ]
        stmt = (
            base.join(elements, true()).add_columns(*cols, func.count()).where(when).group_by(*cols)
        )
        s.execute(insert(table).from_select([*names, "theme", "score", "mentions"], stmt))
    for m in sorted({m for a, b in ranges for m in _months_between(a, b)}):
        nxt = _next_month(m)
        s.execute(delete(NpsStoreMonth).where(NpsStoreMonth.day == m))
        keys = [
            NpsStoreDay.survey_id,
            NpsStoreDay.channel,
            NpsStoreDay.language,
            NpsStoreDay.store,
            NpsStoreDay.store_is_text,
            NpsStoreDay.score,
        ]
        stmt = (
            select(literal(m, Date), *keys, func.sum(NpsStoreDay.responses))
            .where(NpsStoreDay.day >= m, NpsStoreDay.day < nxt)
            .group_by(*keys)
        )
        names = ["day", "survey_id", "channel", "language", "store", "store_is_text", "score"]
        s.execute(insert(NpsStoreMonth).from_select([*names, "responses"], stmt))


def _months_between(a: date, b: date) -> list[date]:
    out, m = [], a.replace(day=1)
    while m < b:
        out.append(m)
        m = _next_month(m)
    return out


def _rebuild_rates(s: Session, ranges: Sequence[tuple[date, date]]) -> None:
    when = _in_ranges(Invitation.sent_at, _time_ranges(ranges))
    day = _day_of(s, Invitation.sent_at)
    # The same rule as `response_rate`: answered by state, or a late / opted-out answer.
    answered = or_(
        Invitation.state.in_(ANSWERED_STATES),
        and_(
            Response.id.is_not(None),
            or_(Response.late.is_(True), Invitation.state == InvitationState.OPTED_OUT),
        ),
    )
    dims = [day, Invitation.survey_id, Invitation.channel, Invitation.language]
    store = [_store_value(s), _store_is_text(s)]
    for table, extra in ((RateDay, []), (RateStoreDay, store)):
        s.execute(delete(table).where(_in_ranges(table.day, ranges)))
        cols = [*dims, *extra]
        names = ["day", "survey_id", "channel", "language", "store", "store_is_text"][
            : 4 + len(extra)
        ]
        stmt = (
            select(*cols, func.count(), func.count().filter(answered))
            .select_from(Invitation)
            .outerjoin(Response, Response.invitation_id == Invitation.id)
            .where(Invitation.sent_at.is_not(None), when)
            .group_by(*cols)
        )
        s.execute(insert(table).from_select([*names, "delivered", "answered"], stmt))


@dataclass
class Refreshed:
    days: int = 0  # days of responses rebuilt
    sent_days: int = 0  # days of invitations (response rate) rebuilt
    upto: date | None = None
    behind: bool = False  # more days to add: call again


def refresh_rollup(
    s: Session,
    today: date,
    *,
    max_days: int | None = None,
    margin: timedelta = ROLLUP_MARGIN,
) -> Refreshed:
    """Bring the rollup up to `today` (exclusive: today stays raw) and rebuild every rolled-up
    day with a change since the last refresh. `max_days` bounds how many new days one call adds
    (a first backfill then takes several calls; reports stay exact meanwhile). Rows changed in
    the last `margin` stay "changed" (read raw) until the next refresh.

    Run it in `Database.session_for_update()`: its lock on the state row (BEGIN IMMEDIATE on
    SQLite) keeps two refreshes from rebuilding the same day at once."""
    started = utcnow()
    locked = select(RollupState).where(RollupState.id == 1).with_for_update()
    state = s.scalar(locked)
    if state is None:
        # Migration 0006 inserts the row; if it is gone, two workers may put it back at once.
        ins = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
        s.execute(ins(RollupState).values(id=1).on_conflict_do_nothing())
        state = s.scalars(locked).one()
    first = state.upto
    if first is None:
        days = [
            s.scalar(select(func.min(_day_of(s, Response.scored_at)))),
            s.scalar(select(func.min(_day_of(s, Invitation.sent_at)))),
        ]
        known = [_as_date(d) for d in days if d is not None]
        first = min(known) if known else today
    upto = max(first, today)
    if max_days is not None and (upto - first).days > max_days:
        upto = first + timedelta(days=max_days)
    new = [first + timedelta(i) for i in range((upto - first).days)]
    changed: set[date] = set()
    changed_sent: set[date] = set()
    if state.upto is not None and state.checked_at is not None:
        changed = _dirty_days(s, state.checked_at, state.upto)
        changed_sent = _dirty_sent_days(s, state.checked_at, state.upto)
    response_days = _day_ranges([*new, *changed])
    sent_days = _day_ranges([*new, *changed_sent])
    if response_days:
        _rebuild_responses(s, response_days)
    if sent_days:
        _rebuild_rates(s, sent_days)
    # A change this refresh may not have seen (its transaction still open) is newer than this.
    state.checked_at = started - margin
    state.upto = max(upto, state.upto or upto)
    state.refreshed_at = started
    s.info.pop("npsbot_rollup", None)
    s.info.pop("npsbot_rollup_sent", None)
    return Refreshed(
        days=len(new) + len(changed - set(new)),
        sent_days=len(new) + len(changed_sent - set(new)),
        upto=state.upto,
        behind=state.upto < today,
    )


ROLLUP_TABLES = (NpsDay, NpsStoreDay, NpsStoreMonth, ThemeDay, ThemeStoreDay, RateDay, RateStoreDay)


def reset_rollup(s: Session) -> None:
    """Empty the rollup: reports read raw until the next refresh rebuilds it from scratch (after
    rows were deleted, or written by hand without `updated_at`)."""
    for table in ROLLUP_TABLES:
        s.execute(delete(table))
    state = s.get(RollupState, 1)
    if state is not None:
        state.upto = state.checked_at = None
    s.info.pop("npsbot_rollup", None)
    s.info.pop("npsbot_rollup_sent", None)


def refresh_job(db: Database, today: date) -> None:
    """The dispatcher's minutely job: refresh, `ROLLUP_CHUNK_DAYS` new days per transaction (a
    first backfill commits as it goes). A failure is logged, never raised: the reports stay
    exact meanwhile (they read more raw rows)."""
    try:
        while True:
            with db.session_for_update() as s:
                done = refresh_rollup(s, today, max_days=ROLLUP_CHUNK_DAYS)
            if not done.behind:
                return
    except Exception:
        log.exception("insights rollup refresh failed; reports read the raw tables meanwhile")


# --- reports ------------------------------------------------------------------------------------


def distribution(s: Session, f: Filters) -> list[int]:
    """How many answers gave each score 0–10 (`GROUP BY score`; rollup + raw, see "rollup")."""
    plan = _plan(s, f)
    stmt: Any = filtered(
        s, select(Response.score, func.count()).select_from(Response), f, plan is not None
    )
    parts: list[Any] = []
    if plan is not None:
        parts += _rolled(s, f, plan, NpsDay, NpsStoreDay, ["score", "sum:responses"])
    rows = _fetch(s, parts + _raw(stmt.group_by(Response.score), Response.scored_at, plan))
    dist = [0] * 11
    for score, n in rows:
        dist[int(score)] += int(n)
    return dist


MAX_RAW_QUERIES = 8


def _raw(stmt: Any, column: Any, plan: tuple[Split, str | None] | None) -> list[Any]:
    """`stmt` over the plan's raw time ranges (all of them without a plan), as SELECTs for
    `_fetch`."""
    if plan is None:
        return [stmt]
    ranges = plan[0].raw
    if len(ranges) > MAX_RAW_QUERIES:
        return [stmt.where(_in_ranges(column, ranges))]
    # One SELECT per range: each an index-only range scan (an OR of the ranges would read the
    # heap). The caller sums the groups.
    return [stmt.where(_in_ranges(column, [r])) for r in ranges]


def _fetch(s: Session, parts: Sequence[Any]) -> list[Any]:
    """The rows of every SELECT (of the same columns) in one round trip."""
    if not parts:
        return []
    both: Any = parts[0] if len(parts) == 1 else union_all(*parts)
    return list(s.execute(both).all())


def nps_from_distribution(dist: Sequence[int]) -> NpsResult:
    return nps(promoters=sum(dist[9:]), passives=sum(dist[7:9]), detractors=sum(dist[:7]))


def response_rate(s: Session, f: Filters) -> dict[str, Any]:
    """Answered / delivered for the invitations sent in the period, grouped by channel.

    Delivered: the provider accepted the question (`sent_at` is set). Answered: it has a response.
    Read from the invitation's state (awaiting the reason, completed) plus the few responses whose
    invitation moved on (late answers, opt-out after the score): no join over every response.
    """
    conds: list[ColumnElement[bool]] = [Invitation.sent_at.is_not(None)]
    if f.start:
        conds.append(Invitation.sent_at >= f.start)
    if f.end:
        conds.append(Invitation.sent_at < f.end)
    if f.surveys:
        conds.append(Invitation.survey_id.in_(_survey_ids(s, f.surveys)))
    if f.channels:
        conds.append(Invitation.channel.in_(f.channels))
    if f.languages:
        conds.append(Invitation.language.in_(f.languages))
    plan = _plan(s, f, sent=True)
    conds += _meta_conditions(s, f, plan is not None)
    delivered: dict[str, int] = defaultdict(int)
    answered: dict[str, int] = defaultdict(int)
    parts: list[Any] = []
    if plan is not None:
        cols = ["channel", "sum:delivered", "sum:answered"]
        parts += _rolled(s, f, plan, RateDay, RateStoreDay, cols, sent=True)
    answered_state = Invitation.state.in_(ANSWERED_STATES)
    stmt = (
        select(Invitation.channel, func.count(), func.count().filter(answered_state))
        .where(*conds)
        .group_by(Invitation.channel)
    )
    for channel, n, ans in _fetch(s, parts + _raw(stmt, Invitation.sent_at, plan)):
        delivered[channel or "none"] += int(n)
        answered[channel or "none"] += int(ans)
    if plan is not None and not plan[0].raw:
        return _rates(delivered, answered)
    if plan is not None:
        conds.append(_in_ranges(Invitation.sent_at, plan[0].raw))
    joined = (
        select(Invitation.channel, func.count())
        .select_from(Response)
        .join(Invitation, Invitation.id == Response.invitation_id)
        .where(*conds, ~answered_state)
        .group_by(Invitation.channel)
    )
    late = joined.where(Response.late.is_(True))
    opted_out = joined.where(
        Response.late.is_(False), Invitation.state == InvitationState.OPTED_OUT
    )
    # Two SELECTs (each keeps its own index), one round trip.
    for channel, n in s.execute(union_all(late, opted_out)):
        answered[channel or "none"] += int(n)
    return _rates(delivered, answered)


def _rates(delivered: Mapping[str, int], answered: Mapping[str, int]) -> dict[str, Any]:
    per = {ch: _rate(delivered[ch], answered.get(ch, 0)) for ch in sorted(delivered)}
    return {
        **_rate(sum(delivered.values()), sum(answered.values())),
        "by_channel": per,
    }


def _rate(delivered: int, answered: int) -> dict[str, Any]:
    return {
        "delivered": delivered,
        "answered": answered,
        "rate": round(answered / delivered, 4) if delivered else None,
    }


def nps_report(s: Session, f: Filters) -> dict[str, Any]:
    """`GET /api/v1/nps`: the NPS with its margin, group counts and shares, rate, distribution."""
    dist = distribution(s, f)
    result = nps_from_distribution(dist)
    rate = response_rate(s, f)
    return {
        **result_dict(result),
        "response_rate": rate["rate"],
        "delivered": rate["delivered"],
        "answered": rate["answered"],
        "distribution": dist,
        "filters": f.to_dict(),
    }


def _period_start(day: date, interval: str) -> date:
    if interval == "week":
        return day - timedelta(days=day.weekday())  # ISO weeks start on Monday
    if interval == "month":
        return day.replace(day=1)
    return day


def _next_period(start: date, interval: str) -> date:
    if interval == "week":
        return start + timedelta(days=7)
    if interval == "month":
        return (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return start + timedelta(days=1)


def _day_column(s: Session) -> ColumnElement[Any]:
    return _day_of(s, Response.scored_at)


def trend(s: Session, f: Filters, interval: str = "week") -> dict[str, Any]:
    """NPS per period (UTC days, ISO weeks or months) with a margin, and the last change."""
    day = _day_column(s).label("day")
    plan = _plan(s, f)
    stmt: Any = filtered(
        s, select(day, Response.score, func.count()).select_from(Response), f, plan is not None
    )
    parts: list[Any] = []
    if plan is not None:
        parts += _rolled(s, f, plan, NpsDay, NpsStoreDay, ["day", "score", "sum:responses"])
    rows = _fetch(s, parts + _raw(stmt.group_by(day, Response.score), Response.scored_at, plan))
    buckets: dict[date, dict[str, int]] = defaultdict(lambda: dict.fromkeys(CATEGORIES, 0))
    for d, score, n in rows:
        d = d if isinstance(d, date) else date.fromisoformat(str(d)[:10])
        buckets[_period_start(d, interval)][category_of(score)] += int(n)
    points: list[dict[str, Any]] = []
    results: list[NpsResult] = []
    if buckets:
        # From the first period with answers to the last; gaps between them are null points.
        cur, last = min(buckets), max(buckets)
        while cur <= last and len(points) < MAX_PERIODS:
            nxt = _next_period(cur, interval)
            r = _result(buckets.get(cur, {}))
            results.append(r)
            points.append({"period": cur.isoformat(), "end": nxt.isoformat(), **result_dict(r)})
            cur = nxt
    change: dict[str, Any] | None = None
    if len(results) >= 2:
        before, after = results[-2], results[-1]
        if before.n and after.n:
            cmp = compare_nps(before, after)
            change = {
                "from_period": points[-2]["period"],
                "to_period": points[-1]["period"],
                "change": round(cmp.change, 1),
                "margin": round(cmp.margin, 1),
                "p_value": round(cmp.p_value, 4),
                "significant": cmp.significant,
            }
        else:
            change = {
                "from_period": points[-2]["period"],
                "to_period": points[-1]["period"],
                "change": None,
                "margin": None,
                "p_value": None,
                "significant": False,
                "reason": "a period without answers cannot be compared",
            }
    return {"interval": interval, "points": points, "change": change, "filters": f.to_dict()}


def _theme_rows(s: Session, f: Filters) -> list[Any]:
    if s.get_bind().dialect.name == "postgresql":
        elements = func.jsonb_array_elements_text(Response.themes).table_valued("value")
    else:
        elements = func.json_each(Response.themes).table_valued("value")
    theme = elements.c.value.label("theme")
    plan = _plan(s, f)
    stmt = filtered(
        s,
        select(theme, Response.score, func.count())
        .select_from(Response)
        .join(elements, literal_column("true")),
        f,
        plan is not None,
    )
    parts: list[Any] = []
    if plan is not None:
        parts += _rolled(s, f, plan, ThemeDay, ThemeStoreDay, ["theme", "score", "sum:mentions"])
    rows = _fetch(s, parts + _raw(stmt.group_by(theme, Response.score), Response.scored_at, plan))
    return rows


def themes(s: Session, f: Filters, limit: int = 50) -> dict[str, Any]:
    """Theme counts by category, and the NPS among customers who mention each theme."""
    per: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(CATEGORIES, 0))
    for theme, score, n in _theme_rows(s, f):
        per[str(theme)][category_of(score)] += int(n)
    dist = distribution(s, f)
    totals = {"detractor": sum(dist[:7]), "passive": sum(dist[7:9]), "promoter": sum(dist[9:])}
    items: list[dict[str, Any]] = []
    for theme, counts in per.items():
        r = _result(counts)
        items.append(
            {
                "theme": theme,
                "mentions": r.n,
                "promoters": r.promoters,
                "passives": r.passives,
                "detractors": r.detractors,
                # Share of each group's answers that mention the theme.
                "detractor_share": round(r.detractors / totals["detractor"], 4)
                if totals["detractor"]
                else 0.0,
                "promoter_share": round(r.promoters / totals["promoter"], 4)
                if totals["promoter"]
                else 0.0,
                "nps": _round(r.score),
                "margin_of_error": _round(r.margin_of_error),
            }
        )
    items.sort(key=lambda t: (-t["mentions"], t["theme"]))
    return {"themes": items[:limit], "responses": sum(totals.values()), "filters": f.to_dict()}


def top_themes(report: Mapping[str, Any], category: str, n: int = 5) -> list[dict[str, Any]]:
    """The themes most mentioned by one group (from a `themes` report)."""
    key = {"promoter": "promoters", "passive": "passives", "detractor": "detractors"}[category]
    rows = [t for t in report["themes"] if t[key]]
    rows.sort(key=lambda t: (-t[key], t["theme"]))
    return rows[:n]


def breakdown(s: Session, f: Filters, by: str) -> list[dict[str, Any]]:
    """NPS per channel, survey, language or metadata key (`meta.store` or `store`)."""
    stmt: Select[Any] | None
    names: dict[Any, str] = {}
    key = by[5:] if by.startswith("meta.") else by
    if by not in ("channel", "survey", "language") and not META_KEY_RE.match(key):
        raise FilterError("by", f"{by!r}: use channel, survey, language or a metadata key")
    # The rollup column the breakdown groups by (None: a metadata key it does not keep).
    rolled_by = {"channel": "channel", "survey": "survey_id", "language": "language"}.get(by)
    if rolled_by is None and key == ROLLUP_KEY:
        rolled_by = "store"
    plan = _plan(s, f, by_store=rolled_by == "store") if rolled_by else None
    few = plan is not None
    if by == "channel":
        dim: Any = Response.channel
        stmt = select(dim, Response.score, func.count()).select_from(Response)
        stmt = filtered(s, stmt, f, few)
    elif by == "survey":
        # Group by id (an index-only column) and name the groups afterwards: no join.
        dim = Response.survey_id
        names = {i: k for i, k in s.execute(select(Survey.id, Survey.key))}
        stmt = select(dim, Response.score, func.count()).select_from(Response)
        stmt = filtered(s, stmt, f, few)
    else:
        dim = Invitation.language if by == "language" else Invitation.meta[key].as_string()
        stmt = select(dim, Response.score, func.count()).select_from(Response)
        stmt = stmt.join(Invitation, Invitation.id == Response.invitation_id)
        stmt = stmt.where(*response_conditions(s, f, few))
    parts: list[Any] = []
    if plan is not None and rolled_by is not None:
        cols = [rolled_by, "score", "sum:responses"]
        parts += _rolled(s, f, plan, NpsDay, NpsStoreDay, cols)
    rows = _fetch(s, parts + _raw(stmt.group_by(dim, Response.score), Response.scored_at, plan))
    per: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(CATEGORIES, 0))
    for value, score, n in rows:
        label = names.get(value, str(value)) if names else str(value)
        per["(none)" if value is None else label][category_of(score)] += int(n)
    rows = [{"value": v, **result_dict(_result(c))} for v, c in per.items()]
    rows.sort(key=lambda r: (-r["responses"], r["value"]))
    return rows


# --- lists --------------------------------------------------------------------------------------


def _encode_cursor(scored_at: datetime, rid: int) -> str:
    raw = f"{scored_at.astimezone(UTC).isoformat()}|{rid}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, rid = raw.partition("|")
        moment = datetime.fromisoformat(at)
        if moment.tzinfo is None:
            raise ValueError
        return moment, int(rid)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise FilterError("cursor", "not a cursor from a previous page (`next_cursor`)") from None


@dataclass
class Page:
    items: list[dict[str, Any]] = field(default_factory=list)
    next_cursor: str | None = None


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def responses(s: Session, f: Filters, *, limit: int = 50, cursor: str | None = None) -> Page:
    """Responses newest first, `limit` at a time; pass `next_cursor` back for the next page."""
    stmt = (
        select(Response, Invitation.order_id, Invitation.meta, Invitation.language, Survey.key)
        .select_from(Response)
        .join(Invitation, Invitation.id == Response.invitation_id)
        .join(Survey, Survey.id == Response.survey_id)
        .add_columns(Case.id, Case.status, Case.assignee)
        .outerjoin(Case, Case.response_id == Response.id)
        .where(*response_conditions(s, f))
        .order_by(Response.scored_at.desc(), Response.id.desc())
        .limit(limit + 1)
    )
    if cursor:
        at, rid = _decode_cursor(cursor)
        stmt = stmt.where(
            or_(Response.scored_at < at, and_(Response.scored_at == at, Response.id < rid))
        )
    rows = s.execute(stmt).all()
    page = Page()
    for r, order_id, meta, language, survey, case_id, case_status, assignee in rows[:limit]:
        page.items.append(
            {
                "id": r.id,
                "invitation_id": r.invitation_id,
                "survey": survey,
                "scored_at": _iso(r.scored_at),
                "score": r.score,
                "category": r.category,
                "comment": r.comment,
                "themes": list(r.themes or []),
                "sentiment": r.sentiment,
                "channel": r.channel,
                "language": language,
                "late": r.late,
                "order_id": order_id,
                "metadata": dict(meta or {}),
                "case": None
                if case_id is None
                else {"id": case_id, "status": case_status, "assignee": assignee},
            }
        )
    if len(rows) > limit:
        last = rows[limit - 1][0]
        page.next_cursor = _encode_cursor(last.scored_at, last.id)
    return page


def open_cases(s: Session, f: Filters, now: datetime, limit: int = 20) -> dict[str, Any]:
    """Cases not yet resolved (oldest first) with their age; the date filter does not apply."""
    g = Filters(surveys=f.surveys, channels=f.channels, languages=f.languages, metadata=f.metadata)
    # Plain columns, not Case objects: the page shows a few fields of a few rows.
    base = (
        select(
            Case.id,
            Case.response_id,
            Case.status,
            Case.assignee,
            Case.created_at,
            Response.score,
            Response.comment,
            Response.channel,
            Contact.name,
        )
        .select_from(Case)
        .join(Response, Response.id == Case.response_id)
        .join(Contact, Contact.id == Case.contact_id)
    )
    if g.needs_invitation:
        base = base.join(Invitation, Invitation.id == Response.invitation_id)
    base = base.where(*response_conditions(s, g))

    def count(status: str) -> Any:
        stmt = select(func.count()).select_from(Case)
        if g.surveys or g.channels or g.needs_invitation:  # else the status index alone answers
            stmt = stmt.join(Response, Response.id == Case.response_id)
        if g.needs_invitation:
            stmt = stmt.join(Invitation, Invitation.id == Response.invitation_id)
        return stmt.where(Case.status == status, *response_conditions(s, g)).scalar_subquery()

    # One short scan of the (status, created_at, id) index per status, merged here: with
    # `status IN (…)` PostgreSQL would sort every open case to find the oldest.
    per_status = [
        base.where(Case.status == status).order_by(Case.created_at, Case.id).limit(limit).subquery()
        for status in (CaseStatus.OPEN, CaseStatus.TAKEN)
    ]
    oldest_q = union_all(*[select(q) for q in per_status]).subquery("oldest")
    # A count per status, each an index-only count like a plain COUNT(*) (`GROUP BY status`
    # aggregated the same index entries at twice the cost), and the oldest cases beside them:
    # one round trip, one row of counts with NULLs when there is no case.
    one = select(literal(1).label("one")).subquery("one")
    stmt = select(
        count(CaseStatus.OPEN).label("n_open"), count(CaseStatus.TAKEN).label("n_taken"), oldest_q
    ).select_from(one.outerjoin(oldest_q, true()))
    rows = s.execute(stmt).all()
    n_open, n_taken = rows[0].n_open, rows[0].n_taken
    oldest: list[Any] = [row for row in rows if row.id is not None]
    oldest.sort(key=lambda row: (row.created_at, row.id))
    items = []
    for case in oldest[:limit]:
        age = now - case.created_at
        items.append(
            {
                "id": case.id,
                "response_id": case.response_id,
                "status": case.status,
                "assignee": case.assignee,
                "created_at": _iso(case.created_at),
                "age_hours": round(age.total_seconds() / 3600, 1),
                "score": case.score,
                "comment": case.comment,
                "channel": case.channel,
                "customer": case.name,
            }
        )
    return {
        "open": int(n_open),
        "taken": int(n_taken),
        "items": items,
    }


def take_case(s: Session, case_id: int, who: str, now: datetime) -> Case:
    """Staff takes a case (open → taken); resolving: `resolve_case`. Raises LookupError."""
    case = s.get(Case, case_id)
    if case is None:
        raise LookupError(f"no case {case_id}")
    if case.status == CaseStatus.OPEN:
        case.status = CaseStatus.TAKEN
        case.assignee = who
        case.taken_at = now
    return case


def resolve_case(s: Session, case_id: int, who: str, now: datetime) -> Case:
    case = s.get(Case, case_id)
    if case is None:
        raise LookupError(f"no case {case_id}")
    if case.status != CaseStatus.RESOLVED:
        case.status = CaseStatus.RESOLVED
        case.assignee = case.assignee or who
        case.resolved_at = now
        case.outcome = case.outcome or "resolved"
    return case


def survey_keys(s: Session) -> list[str]:
    """Known survey keys (for filter menus)."""
    return list(s.scalars(select(Survey.key).order_by(Survey.key)))


def sparkline(values: Sequence[float | None]) -> str:
    """A one-line chart of the NPS series for terminals (gaps as spaces)."""
    bars = "▁▂▃▄▅▆▇█"
    known = [v for v in values if v is not None]
    if not known:
        return ""
    lo, hi = min(known), max(known)
    span = hi - lo or 1.0
    return "".join(" " if v is None else bars[min(7, int((v - lo) / span * 7.999))] for v in values)

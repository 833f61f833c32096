"""The insights rollup: daily counts the reports read instead of a million responses.

Tables `nps_daily`, `themes_daily`, `rates_daily`, their `_store` variants and
`nps_monthly_store` (see `bot.storage.models.rollup`) hold counts per UTC day. `refresh_rollup`
rebuilds them per day from the raw tables; a day with a row changed since the last refresh (the
`updated_at` markers) is read raw until it is rebuilt (`rollup_view`). How a report combines the
two: `bot.insights.plan`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Date,
    and_,
    delete,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    type_coerce,
    union,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from bot.insights.sql import (
    ANSWERED_STATES,
    answered_anyway,
    as_date,
    day_of,
    day_ranges,
    in_ranges,
    meta_value,
    months_between,
    next_month,
    theme_elements,
    time_ranges,
)
from bot.storage.db import Database, upsert_for
from bot.storage.models import (
    Invitation,
    NpsDay,
    NpsStoreDay,
    NpsStoreMonth,
    RateDay,
    RateStoreDay,
    Response,
    RollupState,
    ThemeDay,
    ThemeStoreDay,
    utcnow,
)

log = logging.getLogger(__name__)

ROLLUP_KEY = "store"  # the metadata key the rollup splits by (the dashboard's breakdown)
# How long a transaction that writes a response may stay open (plus clock skew between hosts):
# a refresh trusts only changes older than this to be in its snapshot.
ROLLUP_MARGIN = timedelta(minutes=10)
ROLLUP_INTERVAL = 60.0  # seconds between the dispatcher's refreshes
ROLLUP_CHUNK_DAYS = 31  # days one scheduled refresh adds (a backfill spreads over a few minutes)


@dataclass(frozen=True)
class RollupView:
    """What one report transaction may read from the rollup (cached in `Session.info`)."""

    upto: date  # days before this one are rolled up
    checked_at: datetime  # rows changed since may be missing from the rollup
    dirty: frozenset[date]  # ... so these days are read raw (responses changed since)


def _store_is_text(s: Session) -> ColumnElement[bool]:
    """Can a `store=` filter match the row? The same rule as `meta_conditions`: on PostgreSQL
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
    day = day_of(s, Response.scored_at)
    stmt = (
        select(RollupState.upto, RollupState.checked_at, day)
        .select_from(RollupState)
        .outerjoin(Response, Response.updated_at >= RollupState.checked_at)
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
        dirty=frozenset(d for d in (as_date(r[2]) for r in rows if r[2] is not None) if d < upto),
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
    day = day_of(s, Response.scored_at)
    stmt = select(day).where(Response.updated_at >= since).distinct()
    return {d for d in map(as_date, s.scalars(stmt)) if d < upto}


def _dirty_sent_days(s: Session, since: datetime, upto: date) -> set[date]:
    day = day_of(s, Invitation.sent_at)
    changed = select(day).where(Invitation.updated_at >= since, Invitation.sent_at.is_not(None))
    # A late answer or an answer after opting out counts without the invitation changing.
    answered = (
        select(day)
        .select_from(Response)
        .join(Invitation, Invitation.id == Response.invitation_id)
        .where(Response.updated_at >= since, Invitation.sent_at.is_not(None))
    )
    days = set(s.scalars(union(changed, answered)))
    return {d for d in map(as_date, days) if d < upto}


def _rebuild_responses(s: Session, ranges: Sequence[tuple[date, date]]) -> None:
    when = in_ranges(Response.scored_at, time_ranges(ranges))
    day = day_of(s, Response.scored_at)
    dims = [day, Response.survey_id, Response.channel, Invitation.language]
    store = [meta_value(ROLLUP_KEY), _store_is_text(s)]
    base = select().select_from(Response).join(Invitation, Invitation.id == Response.invitation_id)
    tables: list[tuple[Any, list[Any]]] = [(NpsDay, []), (NpsStoreDay, store)]
    for table, extra in tables:
        s.execute(delete(table).where(in_ranges(table.day, ranges)))
        cols = [*dims, *extra, Response.score]
        names = ["day", "survey_id", "channel", "language", "store", "store_is_text"][
            : 4 + len(extra)
        ]
        stmt = base.add_columns(*cols, func.count()).where(when).group_by(*cols)
        s.execute(insert(table).from_select([*names, "score", "responses"], stmt))
    elements = theme_elements(s)
    tables = [(ThemeDay, []), (ThemeStoreDay, store)]
    for table, extra in tables:
        s.execute(delete(table).where(in_ranges(table.day, ranges)))
        cols = [*dims, *extra, elements.c.value, Response.score]
        names = ["day", "survey_id", "channel", "language", "store", "store_is_text"][
            : 4 + len(extra)
        ]
        stmt = (
            base.join(elements, true()).add_columns(*cols, func.count()).where(when).group_by(*cols)
        )
        s.execute(insert(table).from_select([*names, "theme", "score", "mentions"], stmt))
    for m in sorted({m for a, b in ranges for m in months_between(a, b)}):
        nxt = next_month(m)
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


def _rebuild_rates(s: Session, ranges: Sequence[tuple[date, date]]) -> None:
    when = in_ranges(Invitation.sent_at, time_ranges(ranges))
    day = day_of(s, Invitation.sent_at)
    # The response rate's rule: answered by state, or answered anyway.
    answered = or_(
        Invitation.state.in_(ANSWERED_STATES), and_(Response.id.is_not(None), answered_anyway())
    )
    dims = [day, Invitation.survey_id, Invitation.channel, Invitation.language]
    store = [meta_value(ROLLUP_KEY), _store_is_text(s)]
    for table, extra in ((RateDay, []), (RateStoreDay, store)):
        s.execute(delete(table).where(in_ranges(table.day, ranges)))
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
        ins = upsert_for(s.get_bind().dialect.name)
        s.execute(ins(RollupState).values(id=1).on_conflict_do_nothing())
        state = s.scalars(locked).one()
    first = state.upto
    if first is None:
        days = [
            s.scalar(select(func.min(day_of(s, Response.scored_at)))),
            s.scalar(select(func.min(day_of(s, Invitation.sent_at)))),
        ]
        known = [as_date(d) for d in days if d is not None]
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
    response_days = day_ranges([*new, *changed])
    sent_days = day_ranges([*new, *changed_sent])
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

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
    func,
    literal_column,
    or_,
    select,
    text,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from bot.models import (
    Case,
    CaseStatus,
    Contact,
    Invitation,
    InvitationState,
    Response,
    Survey,
)
from scoring import NpsResult, classify, compare_nps, nps

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


def _meta_conditions(s: Session, f: Filters) -> list[ColumnElement[bool]]:
    postgres = s.get_bind().dialect.name == "postgresql"
    conds: list[ColumnElement[bool]] = []
    for key, value in f.metadata:
        if postgres:
            # Containment uses the GIN index on invitations.metadata.
            conds.append(type_coerce(Invitation.meta, JSONB).contains({key: value}))
        else:
            conds.append(Invitation.meta[key].as_string() == value)
    return conds


def response_conditions(s: Session, f: Filters) -> list[ColumnElement[bool]]:
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
    conds += _meta_conditions(s, f)
    return conds


_S = TypeVar("_S", bound=Select[*tuple[Any, ...]])


def filtered(s: Session, stmt: _S, f: Filters) -> _S:
    """`stmt` (selecting from responses) restricted to `f`."""
    if f.needs_invitation:
        stmt = stmt.join(Invitation, Invitation.id == Response.invitation_id)
    return stmt.where(*response_conditions(s, f))


def prepare(s: Session) -> None:
    """Tune the report transaction: on PostgreSQL, no JIT (it compiles for 40+ ms to save less
    on queries that take 100-300 ms)."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SET LOCAL jit = off"))


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


# --- reports ------------------------------------------------------------------------------------


def distribution(s: Session, f: Filters) -> list[int]:
    """How many answers gave each score 0–10 (one `GROUP BY score`)."""
    stmt = filtered(s, select(Response.score, func.count()).select_from(Response), f).group_by(
        Response.score
    )
    dist = [0] * 11
    for score, n in s.execute(stmt):
        dist[int(score)] = int(n)
    return dist


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
    conds += _meta_conditions(s, f)
    answered_state = Invitation.state.in_(ANSWERED_STATES)
    stmt = (
        select(Invitation.channel, func.count(), func.count().filter(answered_state))
        .where(*conds)
        .group_by(Invitation.channel)
    )
    delivered: dict[str, int] = defaultdict(int)
    answered: dict[str, int] = defaultdict(int)
    for channel, n, ans in s.execute(stmt):
        delivered[channel or "none"] += int(n)
        answered[channel or "none"] += int(ans)
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
    for extra in (late, opted_out):
        for channel, n in s.execute(extra):
            answered[channel or "none"] += int(n)
    per = {ch: _rate(delivered[ch], answered[ch]) for ch in sorted(delivered)}
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
    if s.get_bind().dialect.name == "postgresql":
        # Literal 'UTC': the expression must match the statistics object of migration 0003.
        return cast(func.timezone(literal_column("'UTC'"), Response.scored_at), Date)
    return func.date(Response.scored_at)  # SQLite stores UTC text: its first 10 chars


def trend(s: Session, f: Filters, interval: str = "week") -> dict[str, Any]:
    """NPS per period (UTC days, ISO weeks or months) with a margin, and the last change."""
    day = _day_column(s).label("day")
    stmt = filtered(s, select(day, Response.score, func.count()).select_from(Response), f).group_by(
        day, Response.score
    )
    buckets: dict[date, dict[str, int]] = defaultdict(lambda: dict.fromkeys(CATEGORIES, 0))
    for d, score, n in s.execute(stmt):
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


def _theme_rows(s: Session, f: Filters) -> Select[Any]:
    if s.get_bind().dialect.name == "postgresql":
        elements = func.jsonb_array_elements_text(Response.themes).table_valued("value")
    else:
        elements = func.json_each(Response.themes).table_valued("value")
    theme = elements.c.value.label("theme")
    stmt = (
        select(theme, Response.score, func.count())
        .select_from(Response)
        .join(elements, literal_column("true"))
    )
    return filtered(s, stmt, f).group_by(theme, Response.score)


def themes(s: Session, f: Filters, limit: int = 50) -> dict[str, Any]:
    """Theme counts by category, and the NPS among customers who mention each theme."""
    per: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(CATEGORIES, 0))
    for theme, score, n in s.execute(_theme_rows(s, f)):
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


BREAKDOWNS = ("channel", "survey", "language")


def breakdown(s: Session, f: Filters, by: str) -> list[dict[str, Any]]:
    """NPS per channel, survey, language or metadata key (`meta.store` or `store`)."""
    stmt: Select[Any]
    names: dict[Any, str] = {}
    if by == "channel":
        dim: Any = Response.channel
        stmt = select(dim, Response.score, func.count()).select_from(Response)
        stmt = filtered(s, stmt, f)
    elif by == "survey":
        # Group by id (an index-only column) and name the groups afterwards: no join.
        dim = Response.survey_id
        names = {i: k for i, k in s.execute(select(Survey.id, Survey.key))}
        stmt = select(dim, Response.score, func.count()).select_from(Response)
        stmt = filtered(s, stmt, f)
    else:
        key = by[5:] if by.startswith("meta.") else by
        if by != "language" and not META_KEY_RE.match(key):
            raise FilterError("by", f"{by!r}: use channel, survey, language or a metadata key")
        dim = Invitation.language if by == "language" else Invitation.meta[key].as_string()
        stmt = select(dim, Response.score, func.count()).select_from(Response)
        stmt = stmt.join(Invitation, Invitation.id == Response.invitation_id)
        stmt = stmt.where(*response_conditions(s, f))
    per: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(CATEGORIES, 0))
    for value, score, n in s.execute(stmt.group_by(dim, Response.score)):
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
    base = (
        select(Case, Response.score, Response.comment, Response.channel, Contact.name)
        .select_from(Case)
        .join(Response, Response.id == Case.response_id)
        .join(Contact, Contact.id == Case.contact_id)
    )
    if g.needs_invitation:
        base = base.join(Invitation, Invitation.id == Response.invitation_id)
    base = base.where(
        Case.status.in_((CaseStatus.OPEN, CaseStatus.TAKEN)), *response_conditions(s, g)
    )
    counts_stmt = select(Case.status, func.count()).select_from(Case)
    if g.surveys or g.channels or g.needs_invitation:  # else the status index alone answers
        counts_stmt = counts_stmt.join(Response, Response.id == Case.response_id)
    if g.needs_invitation:
        counts_stmt = counts_stmt.join(Invitation, Invitation.id == Response.invitation_id)
    counts_stmt = counts_stmt.where(
        Case.status.in_((CaseStatus.OPEN, CaseStatus.TAKEN)), *response_conditions(s, g)
    ).group_by(Case.status)
    counts = {str(k): int(v) for k, v in s.execute(counts_stmt)}
    items = []
    for case, score, comment, channel, name in s.execute(
        base.order_by(Case.created_at, Case.id).limit(limit)
    ):
        age = now - case.created_at
        items.append(
            {
                "id": case.id,
                "response_id": case.response_id,
                "status": case.status,
                "assignee": case.assignee,
                "created_at": _iso(case.created_at),
                "age_hours": round(age.total_seconds() / 3600, 1),
                "score": score,
                "comment": comment,
                "channel": channel,
                "customer": name,
            }
        )
    return {
        "open": counts.get(CaseStatus.OPEN, 0),
        "taken": counts.get(CaseStatus.TAKEN, 0),
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

"""Which responses a report covers: query arguments → `Filters` → SQL conditions.

A bad argument raises `FilterError` naming the parameter. Any argument that is not a reserved
name (or `meta.<key>`) filters on the purchase metadata, e.g. `store=centro` matches invitations
whose metadata has `"store": "centro"`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

from sqlalchemy import Select, and_, func, literal_column, or_, select, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from bot.definitions import KINDS
from bot.storage.db import refused_text
from bot.storage.models import Invitation, Response, Survey
from scoring import Category, classify

CATEGORIES = tuple(c.value for c in Category)  # promoter, passive, detractor
INTERVALS = ("day", "week", "month")
# `\Z`, not `$`: `$` also matches before a final newline, and a key is spliced into a JSON path.
CHANNEL_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}\Z")
META_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}\Z")
LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})?\Z")
MAX_VALUE = 200  # a filter value longer than any stored one (survey keys 64, metadata 4 KB)
# Arguments with a meaning of their own; any other name is a metadata key.
RESERVED = frozenset(
    {
        "from",
        "to",
        "survey",
        "kind",
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
# Report dates: wide enough for any real question, narrow enough that the reports' own date
# arithmetic (buckets, the day after `to`) never leaves Python's years 1-9999.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)


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
    kinds: tuple[str, ...] = ()  # transactional, relational (a survey's `kind`)

    def to_dict(self) -> dict[str, Any]:
        """The filters as applied, echoed in every report (a misspelt key shows up here)."""
        return {
            "from": self.start.isoformat() if self.start else None,
            "to": self.end.isoformat() if self.end else None,
            "survey": list(self.surveys),
            "kind": list(self.kinds),
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
    for value in out:
        refused = refused_text(value)
        if refused is not None:
            raise FilterError(name, refused)
        if len(value) > MAX_VALUE:
            raise FilterError(name, f"must be at most {MAX_VALUE} characters")
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
            parsed = moment + timedelta(days=1) if end else moment
        else:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "+"))
            if parsed.tzinfo is not None:
                parsed = parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # Overflow: the day after 9999-12-31, or before year 1
        raise FilterError(
            param, f"{value!r} is not a date (YYYY-MM-DD) or an RFC 3339 timestamp"
        ) from None
    if parsed.tzinfo is None:
        raise FilterError(param, f"{value!r} needs a UTC offset, e.g. 2026-11-22T15:00:00Z")
    if not EARLIEST <= parsed <= LATEST:
        raise FilterError(param, f"{value!r} is out of range ({EARLIEST.year}-{LATEST.year})")
    return parsed


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
        if not LANGUAGE_RE.match(lang):
            raise FilterError("language", f"{lang!r} is not a language code (es, en, pt)")
    categories = tuple(v.lower() for v in _values(args, "category"))
    for cat in categories:
        if cat not in CATEGORIES:
            raise FilterError("category", f"{cat!r}: use promoter, passive or detractor")
    kinds = tuple(v.lower() for v in _values(args, "kind"))
    for kind in kinds:
        if kind not in KINDS:
            raise FilterError("kind", f"{kind!r}: use transactional or relational")
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
        kinds=kinds,
    )


def parse_limit(args: Args, default: int = 50) -> int:
    raw = _one(args, "limit")
    if raw is None:
        return default
    # ASCII digits only: "²" is a digit to isdigit() but not to int().
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 4) or not 1 <= int(raw) <= MAX_LIMIT:
        raise FilterError("limit", f"an integer from 1 to {MAX_LIMIT}")
    return int(raw)


def parse_interval(args: Args, default: str = "week") -> str:
    value = (_one(args, "interval") or default).lower()
    if value not in INTERVALS:
        raise FilterError("interval", f"{value!r}: use day, week or month")
    return value


def survey_ids(s: Session, keys: Sequence[str]) -> list[int]:
    rows = s.execute(select(Survey.key, Survey.id).where(Survey.key.in_(keys))).all()
    found = {k: i for k, i in rows}
    missing = [k for k in keys if k not in found]
    if missing:
        known = ", ".join(s.scalars(select(Survey.key).order_by(Survey.key))) or "none"
        raise FilterError("survey", f"unknown survey {missing[0]!r} (known: {known})")
    return [found[k] for k in keys]


def kind_of(options: Mapping[str, Any] | None) -> str:
    """A survey's kind, from its options (`bot.definitions`: transactional unless it says)."""
    return str((options or {}).get("kind", "transactional"))


def scope(s: Session, f: Filters) -> list[int] | None:
    """The survey ids `f` covers (its surveys, of its kinds); None: every survey."""
    if not (f.surveys or f.kinds):
        return None
    ids = survey_ids(s, f.surveys) if f.surveys else None
    if f.kinds:
        rows = s.execute(select(Survey.id, Survey.options))
        kind = [i for i, options in rows if kind_of(options) in f.kinds]
        ids = kind if ids is None else [i for i in ids if i in kind]
    return ids


def sent_conditions(s: Session, f: Filters) -> list[ColumnElement[bool]]:
    """The delivered invitations `f` covers, but for metadata: sent in its dates, of its
    surveys (and kinds), on its channels, in its languages (a response rate's denominator)."""
    conds: list[ColumnElement[bool]] = [Invitation.sent_at.is_not(None)]
    if f.start:
        conds.append(Invitation.sent_at >= f.start)
    if f.end:
        conds.append(Invitation.sent_at < f.end)
    if (ids := scope(s, f)) is not None:
        conds.append(Invitation.survey_id.in_(ids))
    if f.channels:
        conds.append(Invitation.channel.in_(f.channels))
    if f.languages:
        conds.append(Invitation.language.in_(f.languages))
    return conds


def meta_conditions(s: Session, f: Filters, few: bool = False) -> list[ColumnElement[bool]]:
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
    if (ids := scope(s, f)) is not None:
        conds.append(Response.survey_id.in_(ids))
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
    conds += meta_conditions(s, f, few)
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

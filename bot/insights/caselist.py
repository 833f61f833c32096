"""The cases list: query-string filters → `CaseQuery` → one page of cases and the counts.

Pages are offsets (`page=3`), not cursors: a business has hundreds or a few thousand cases, not
millions, the list sorts on four keys (one computed: the last activity), and a page number is
what a shared link and the page's own "page 3 of 7" need. A bad argument raises
`filters.FilterError` naming it.

When a case is overdue is not decided here: the caller passes the condition
(`bot.staff.cases.overdue`, the rule escalation uses), so the list and the alerts never disagree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from bot.insights.filters import CHANNEL_RE, MAX_VALUE, FilterError, Filters, meta_conditions
from bot.storage.db import refused_text
from bot.storage.models import Case, CaseEvent, CaseStatus, Contact, Invitation, Response
from bot.storage.models.base import UTCDateTime

OPEN, TAKEN, RESOLVED = CaseStatus.OPEN, CaseStatus.TAKEN, CaseStatus.RESOLVED
STATUSES: dict[str, tuple[str, ...]] = {
    "unresolved": (OPEN, TAKEN),
    "open": (OPEN,),
    "taken": (TAKEN,),
    "resolved": (RESOLVED,),
    "all": (OPEN, TAKEN, RESOLVED),
}
SORTS = ("age", "score", "activity", "status")
NOBODY = "nobody"  # the assignee filter's value for cases nobody has
STORE_KEY = "store"  # the purchase metadata key the overview breaks down by
PAGE_SIZE = 50
MAX_PAGE = 100_000
MAX_AGE_DAYS = 36_500  # "older than" beyond a century is a typo, not a question
AGE_RE = re.compile(r"^(\d{1,6})\s*([hd])\Z")
SCORE_RE = re.compile(r"^(\d{1,2})(?:\s*[-–]\s*(\d{1,2}))?\Z")
YES, NO = ("yes", "true", "1", "on"), ("no", "false", "0", "off")


@dataclass(frozen=True)
class CaseQuery:
    """Which cases the list shows, in which order, and which page."""

    status: str = "unresolved"
    assignee: str | None = None  # a name, or NOBODY
    store: str | None = None
    channel: str | None = None
    score: tuple[int, int] | None = None  # inclusive range; an exact score is (n, n)
    age: str | None = None  # "12h", "3d": created longer ago than that
    overdue: bool = False
    sort: str = "age"
    desc: bool = True  # age desc: the oldest first
    page: int = 1

    @property
    def older_than(self) -> timedelta | None:
        if self.age is None:
            return None
        n, unit = int(self.age[:-1]), self.age[-1]
        return timedelta(hours=n) if unit == "h" else timedelta(days=n)

    def args(self, **changes: Any) -> dict[str, str]:
        """The query string of this list (with `changes`), defaults left out: a link to share."""
        q = replace(self, **changes)
        out: dict[str, str] = {}
        for name, value in asdict(q).items():
            if value == getattr(DEFAULT, name):
                continue
            if name == "score":
                value = f"{value[0]}" if value[0] == value[1] else f"{value[0]}-{value[1]}"
            elif name == "overdue":
                value = "yes"
            elif name == "desc":
                name, value = "dir", "desc" if value else "asc"
            out[name] = str(value)
        return out


DEFAULT = CaseQuery()


def _one(args: Mapping[str, str], name: str) -> str | None:
    """The argument's value; empty (a form's "all") as absent."""
    raw = args.get(name)
    if raw is None or not raw.strip():
        return None
    value = raw.strip()
    refused = refused_text(value)
    if refused is not None:
        raise FilterError(name, refused)
    if len(value) > MAX_VALUE:
        raise FilterError(name, f"must be at most {MAX_VALUE} characters")
    return value


def _score(value: str) -> tuple[int, int]:
    m = SCORE_RE.match(value)
    low, high = (int(m[1]), int(m[2] or m[1])) if m else (-1, -1)
    if not (0 <= low <= high <= 10):
        raise FilterError("score", f"{value!r}: a score 0-10 or a range such as 0-6")
    return low, high


def _age(value: str) -> str:
    m = AGE_RE.match(value.lower())
    if m is None or not 0 < int(m[1]) <= (MAX_AGE_DAYS * (24 if m[2] == "h" else 1)):
        raise FilterError("age", f"{value!r}: hours or days, such as 12h or 3d")
    return f"{int(m[1])}{m[2]}"


def parse_query(args: Mapping[str, str]) -> CaseQuery:
    """The list's arguments (unknown names are ignored: `lang`, a tracking tag…)."""
    status = (_one(args, "status") or DEFAULT.status).lower()
    if status not in STATUSES:
        raise FilterError("status", f"{status!r}: use {', '.join(STATUSES)}")
    channel = _one(args, "channel")
    if channel is not None and not CHANNEL_RE.match(channel.lower()):
        raise FilterError("channel", f"{channel!r} is not a channel name")
    score = _one(args, "score")
    age = _one(args, "age")
    overdue = (_one(args, "overdue") or "no").lower()
    if overdue not in YES + NO:
        raise FilterError("overdue", "use yes or no")
    sort = (_one(args, "sort") or DEFAULT.sort).lower()
    if sort not in SORTS:
        raise FilterError("sort", f"{sort!r}: use {', '.join(SORTS)}")
    direction = (_one(args, "dir") or "desc").lower()
    if direction not in ("asc", "desc"):
        raise FilterError("dir", "use asc or desc")
    page = _one(args, "page") or "1"
    # ASCII digits only: "²" is a digit to isdigit() but not to int().
    if not (page.isascii() and page.isdigit() and len(page) <= 6) or not 1 <= int(page) <= MAX_PAGE:
        raise FilterError("page", f"a page number from 1 to {MAX_PAGE}")
    assignee = _one(args, "assignee")
    return CaseQuery(
        status=status,
        assignee=NOBODY if assignee and assignee.lower() == NOBODY else assignee,
        store=_one(args, "store"),
        channel=channel.lower() if channel else None,
        score=_score(score) if score else None,
        age=_age(age) if age else None,
        overdue=overdue in YES,
        sort=sort,
        desc=direction == "desc",
        page=int(page),
    )


def last_activity() -> ColumnElement[datetime]:
    """A case's last event (alerted, taken, a message, resolved…), else its creation."""
    latest = select(func.max(CaseEvent.at)).where(CaseEvent.case_id == Case.id).scalar_subquery()
    return func.coalesce(latest, Case.created_at, type_=UTCDateTime())


def _filtered(
    s: Session, stmt: Select[Any], q: CaseQuery, now: datetime, overdue: ColumnElement[bool]
) -> Select[Any]:
    """`stmt` (over cases ⋈ responses) restricted to every filter but the status."""
    conds: list[ColumnElement[bool]] = []
    if q.assignee == NOBODY:
        conds.append(Case.assignee.is_(None))
    elif q.assignee is not None:
        conds.append(Case.assignee == q.assignee)
    if q.store is not None:
        stmt = stmt.join(Invitation, Invitation.id == Response.invitation_id)
        conds += meta_conditions(s, Filters(metadata=((STORE_KEY, q.store),)))
    if q.channel is not None:
        conds.append(Response.channel == q.channel)
    if q.score is not None:
        conds.append(Response.score.between(*q.score))
    if q.older_than is not None:
        conds.append(Case.created_at < now - q.older_than)
    if q.overdue:
        conds.append(overdue)
    return stmt.where(*conds)


def _order(q: CaseQuery, activity: ColumnElement[datetime]) -> list[Any]:
    rank = case({OPEN: 0, TAKEN: 1}, value=Case.status, else_=2)
    key, down = {
        "age": (Case.created_at, not q.desc),  # the oldest has the greatest age
        "score": (Response.score, q.desc),
        "activity": (activity, q.desc),
        "status": (rank, q.desc),
    }[q.sort]
    # The age breaks ties (oldest first), then the id: a stable order across pages.
    tie = [Case.created_at.asc(), Case.id.asc()] if q.sort != "age" else []
    return [key.desc() if down else key.asc(), *tie, Case.id.desc() if down else Case.id.asc()]


def cases(s: Session, q: CaseQuery, now: datetime, overdue: ColumnElement[bool]) -> dict[str, Any]:
    """One page of cases, the count per status under the other filters, and the total."""
    joined = select().select_from(Case).join(Response, Response.id == Case.response_id)
    counted = _filtered(s, joined.add_columns(Case.status, func.count()), q, now, overdue)
    counts: dict[str, int] = {str(st): 0 for st in (OPEN, TAKEN, RESOLVED)}
    counts |= {st: int(n) for st, n in s.execute(counted.group_by(Case.status)).all()}
    total = sum(counts.get(st, 0) for st in STATUSES[q.status])
    activity = last_activity().label("activity")
    stmt = joined.add_columns(
        Case.id,
        Case.status,
        Case.assignee,
        Case.outcome,
        Case.created_at,
        Case.contact_id,
        Response.score,
        Response.category,
        Response.comment,
        Response.channel,
        Contact.name,
        activity,
        case((overdue, True), else_=False).label("overdue"),
    ).join(Contact, Contact.id == Case.contact_id)
    stmt = _filtered(s, stmt, q, now, overdue).where(Case.status.in_(STATUSES[q.status]))
    stmt = stmt.order_by(*_order(q, last_activity())).offset((q.page - 1) * PAGE_SIZE)
    rows = s.execute(stmt.limit(PAGE_SIZE)).all()
    items = [
        {
            "id": r.id,
            "status": r.status,
            "assignee": r.assignee,
            "outcome": r.outcome,
            "created_at": r.created_at,
            "age": now - r.created_at,
            "overdue": bool(r.overdue),
            "score": r.score,
            "category": r.category,
            "comment": r.comment,
            "channel": r.channel,
            "contact_id": r.contact_id,
            "customer": r.name,
            "activity": r.activity,
        }
        for r in rows
    ]
    pages = max(1, -(-total // PAGE_SIZE))
    return {"items": items, "counts": counts, "total": total, "pages": pages}


def assignees(s: Session) -> list[str]:
    """Everyone who has or had a case, for the filter's menu."""
    stmt = select(Case.assignee).where(Case.assignee.is_not(None)).distinct()
    return sorted(str(a) for a in s.scalars(stmt))

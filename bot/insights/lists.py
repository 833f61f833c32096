"""Lists: responses newest first (cursor pages) and the open-case box of the dashboard."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, literal, or_, select, true, union_all
from sqlalchemy.orm import Session

from bot.insights.filters import FilterError, Filters, response_conditions
from bot.storage.db import MAX_ID
from bot.storage.models import Case, CaseStatus, Contact, Invitation, Response, Survey


def _encode_cursor(scored_at: datetime, rid: int) -> str:
    raw = f"{scored_at.astimezone(UTC).isoformat()}|{rid}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, rid = raw.partition("|")
        moment = datetime.fromisoformat(at)
        if moment.tzinfo is None or not 0 <= int(rid) <= MAX_ID:
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
    g = Filters(
        surveys=f.surveys,
        channels=f.channels,
        languages=f.languages,
        metadata=f.metadata,
        kinds=f.kinds,
    )
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
        if (
            g.surveys or g.kinds or g.channels or g.needs_invitation
        ):  # else the status index alone answers
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
    # A count per status, each an index-only count like a plain COUNT(*), and the oldest cases
    # beside them: one round trip, one row of counts with NULLs when there is no case.
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

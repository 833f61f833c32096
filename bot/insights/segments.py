"""Breakdowns by a contact attribute (`by=attribute.segment`): the NPS and the response rate of
each value, e.g. how gold and silver customers answer a relational survey. Read from the raw
tables (the rollup keeps no contact attributes)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from bot.insights.filters import (
    CATEGORIES,
    META_KEY_RE,
    FilterError,
    Filters,
    category_of,
    meta_conditions,
    response_conditions,
    sent_conditions,
)
from bot.storage.models import Contact, Invitation, Response

PREFIX = "attribute."


def attribute_key(by: str) -> str:
    key = by[len(PREFIX) :]
    if not META_KEY_RE.match(key):
        raise FilterError("by", f"{by!r}: an attribute name is letters, digits, _ or -")
    return key


def _value(key: str) -> ColumnElement[Any]:
    value: ColumnElement[Any] = Contact.attributes[key].as_string()
    return value


Counts = dict[str, dict[str, int]]


def attribute_counts(s: Session, f: Filters, key: str) -> tuple[Counts, dict[str, tuple[int, int]]]:
    """Per value of the contacts' attribute KEY: answers per category, and (delivered,
    answered) of the invitations sent in the period (`reports.breakdown` words them)."""
    dim = _value(key)
    stmt = (
        select(dim, Response.score, func.count())
        .select_from(Response)
        .outerjoin(Contact, Contact.id == Response.contact_id)  # erased: "(none)"
        .join(Invitation, Invitation.id == Response.invitation_id)
        .where(*response_conditions(s, f))
        .group_by(dim, Response.score)
    )
    per: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(CATEGORIES, 0))
    for value, score, n in s.execute(stmt):
        per["(none)" if value is None else str(value)][category_of(score)] += int(n)
    conds = sent_conditions(s, f)
    rates = (
        select(dim, func.count(), func.count(Response.id))
        .select_from(Invitation)
        .outerjoin(Contact, Contact.id == Invitation.contact_id)
        .outerjoin(Response, Response.invitation_id == Invitation.id)
        .where(*conds, *meta_conditions(s, f))
        .group_by(dim)
    )
    rates_of = {
        "(none)" if value is None else str(value): (int(delivered), int(answered))
        for value, delivered, answered in s.execute(rates)
    }
    return dict(per), rates_of

"""A conversation `Turn` applied to the rows: the channel's opt-out, the deep link, the invitation,
its response, and a detractor's case. Core statements built once, run on the unit's connection.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeAlias, cast

from sqlalchemy import Connection, Row, Table, bindparam, case, select, update
from sqlalchemy.orm import Session

import scoring
from bot.events import DetractorResponded, Event, OutboxQueued, ResponseCompleted
from bot.storage.hooks import emit
from bot.storage.models import (
    OPEN_STATES,
    Case,
    ContactChannel,
    Invitation,
    Response,
    Survey,
)
from bot.storage.models import InvitationState as S
from bot.survey import consent, conversation, optout
from bot.survey.contacts import INBOUND_STATES, Found

Record: TypeAlias = Row[*tuple[Any, ...]]  # a row read by name

CHANNELS = cast(Table, ContactChannel.__table__)
INVITATIONS = cast(Table, Invitation.__table__)
RESPONSES = cast(Table, Response.__table__)
SURVEYS = cast(Table, Survey.__table__)
CASES = cast(Table, Case.__table__)

_inv, _resp = INVITATIONS.c, RESPONSES.c
_is_open = _inv.state.in_(OPEN_STATES)
# An invitation with its survey's texts and its response, as one row.
_ROW = select(
    _inv.id,
    _inv.state,
    _inv.reasks,
    _inv.language,
    _inv.survey_id,
    _inv.updated_at,
    _inv.order_id,
    SURVEYS.c.texts,
    SURVEYS.c.key.label("survey_key"),
    _resp.id.label("response_id"),
    _resp.score,
    _resp.category,
    _resp.comment,
    _resp.completed_at,
).select_from(
    INVITATIONS.join(SURVEYS, SURVEYS.c.id == _inv.survey_id).outerjoin(
        RESPONSES, _resp.invitation_id == _inv.id
    )
)
# The invitation a message acts on: the open one (newest first), else the closed one last
# updated. Locked on PostgreSQL (SQLite renders no FOR UPDATE: the unit's writer lock
# serialises instead).
_LATEST = (
    _ROW.where(_inv.contact_id == bindparam("contact_id"), _inv.state.in_(INBOUND_STATES))
    .order_by(
        case((_is_open, 0), else_=1),
        case((_is_open, None), else_=_inv.updated_at).desc(),
        _inv.id.desc(),
    )
    .limit(1)
    .with_for_update(of=INVITATIONS)
)
# The invitation a message names itself (the survey page's), locked likewise.
_NAMED = _ROW.where(
    _inv.id == bindparam("id"), _inv.contact_id == bindparam("contact_id")
).with_for_update(of=INVITATIONS)
_LINK = select(_inv.id, _inv.contact_id, _inv.state, _inv.link_expires_at, _inv.channels).where(
    _inv.link_token == bindparam("token")
)
_OPTED_OUT_INVITATIONS = (
    update(INVITATIONS)
    .where(_inv.contact_id == bindparam("contact"), _inv.state.in_(OPEN_STATES))
    .values(state=S.OPTED_OUT)
)
# SET takes the columns the parameters name (state, reasks; score, comment, completed_at…).
_UPDATE_INVITATION = update(INVITATIONS).where(_inv.id == bindparam("inv"))
_UPDATE_RESPONSE = update(RESPONSES).where(_resp.id == bindparam("rid"))
_INSERT_RESPONSE = RESPONSES.insert().returning(_resp.id)
_INSERT_CASE = CASES.insert().returning(CASES.c.id)


def latest(conn: Connection, contact_id: int) -> Record | None:
    """The invitation a contact's message acts on (see `_LATEST`), or None."""
    return conn.execute(_LATEST, {"contact_id": contact_id}).first()


def named(conn: Connection, invitation_id: int, contact_id: int) -> Record | None:
    """The contact's invitation `invitation_id`, as `latest` reads one, or None."""
    return conn.execute(_NAMED, {"id": invitation_id, "contact_id": contact_id}).first()


def survey_of(row: Record) -> conversation.Survey:
    return conversation.Survey(
        id=row.id,
        state=S(row.state),
        reasks=row.reasks,
        language=row.language,
        score=row.score,
        completed_at=row.completed_at,
        updated_at=row.updated_at,
    )


def link(conn: Connection, token: str) -> Record | None:
    """The invitation a deep link's payload names, or None."""
    return conn.execute(_LINK, {"token": token}).first()


def link_of(row: Record) -> conversation.Link:
    return conversation.Link(row.contact_id, S(row.state), row.link_expires_at)


def apply(
    conn: Connection,
    turn: conversation.Turn,
    *,
    sender: Found,
    channel: str,
    survey: Record | None,
    linked: Record | None,
    now: datetime,
    events: list[Event],
) -> None:
    """Store what `turn` says: consent, the opt-out, the deep link's use, the survey's answer."""
    c = turn.consent
    if turn.opt_out is not None:
        # A STOP/START keyword: its consent change is the opt-out's (`conversation.turn`).
        method, source = (c.method, c.source) if c is not None else ("keyword", None)
        optout.opt(
            conn,
            sender.contact_id,
            channel,
            out=turn.opt_out,
            method=method,
            source=source,
            now=now,
            events=events,
        )
        if turn.opt_out:
            conn.execute(_OPTED_OUT_INVITATIONS, {"contact": sender.contact_id})
    elif c is not None:
        grant = consent.Grant(channel, c.given, c.source)
        consent.record(conn, sender.contact_id, grant, c.method, now)
    if turn.use_link and linked is not None:
        values: dict[str, Any] = {"inv": linked.id, "link_token": None}
        if turn.send_now:
            # The customer is here now: this channel first, no quiet hours, no delay.
            values |= {
                "channels": [channel, *[c for c in linked.channels if c != channel]],
                "due_at": now,
            }
            events.append(OutboxQueued())
        conn.execute(_UPDATE_INVITATION, values)
    if survey is not None:
        _answer(conn, turn, survey, sender.contact_id, channel, now, events)


def _answer(
    conn: Connection,
    turn: conversation.Turn,
    inv: Record,
    contact_id: int,
    channel: str,
    now: datetime,
    events: list[Event],
) -> None:
    """The invitation's state, and its response's score, comment and completion."""
    if turn.state is not None and (turn.state != inv.state or turn.reasks != inv.reasks):
        conn.execute(
            _UPDATE_INVITATION, {"inv": inv.id, "state": turn.state, "reasks": turn.reasks}
        )
    rid, score, category = inv.response_id, inv.score, inv.category
    values: dict[str, Any] = {}
    if turn.score is not None:
        score, category = turn.score, scoring.classify(turn.score)
        values |= {"score": score, "category": category}
    if turn.comment and score is not None:
        comment = f"{inv.comment}\n{turn.comment}" if turn.append and inv.comment else turn.comment
        values |= _comment(comment, score, now)
    if rid is None and score is not None:
        row = dict(
            invitation_id=inv.id,
            survey_id=inv.survey_id,
            contact_id=contact_id,
            channel=channel,
            scored_at=now,
            late=turn.late,
            **values,
        )
        rid = conn.execute(_INSERT_RESPONSE, row).scalar_one()
    elif values and rid is not None:
        conn.execute(_UPDATE_RESPONSE, {"rid": rid, **values})
    if turn.score is not None and rid is not None and score is not None:
        scored = _ids(rid, inv.id, inv.order_id, inv.survey_key, channel)
        scored |= {"score": score, "category": category}
        emit(conn, at=now, kind="response.scored", data=scored, contact_id=contact_id)
    if turn.completed and rid is not None and inv.completed_at is None:
        conn.execute(_UPDATE_RESPONSE, {"rid": rid, "completed_at": now})
        _completed(conn, rid, inv.id, contact_id, score, category, now, events)


def _comment(comment: str, score: int, now: datetime) -> dict[str, Any]:
    """The response's comment columns for `comment`."""
    analysis = scoring.analyze_comment(comment, score=score)
    return {
        "comment": comment,
        "commented_at": now,
        "themes": list(analysis.themes),
        "sentiment": analysis.sentiment,
        "comment_language": analysis.language,
        "contradiction": analysis.contradiction,
    }


def complete(s: Session, response: Response, now: datetime, events: list[Event]) -> None:
    """Close a response: it counts from now on, and a detractor becomes a case for staff."""
    if response.completed_at is not None:
        return
    response.completed_at = now
    s.flush()
    assert response.contact_id is not None  # completed while its customer writes
    _completed(
        s.connection(),
        response.id,
        response.invitation_id,
        response.contact_id,
        response.score,
        response.category,
        now,
        events,
    )


def _completed(
    conn: Connection,
    rid: int,
    inv_id: int,
    contact_id: int,
    score: int | None,
    category: str | None,
    now: datetime,
    events: list[Event],
) -> None:
    assert score is not None and category is not None  # a response always has its score
    events.append(ResponseCompleted(rid, inv_id, score, category))
    emit(conn, at=now, kind="response.completed", data=_completed_data(rid), contact_id=contact_id)
    if category == scoring.Category.DETRACTOR:
        values = {"response_id": rid, "contact_id": contact_id, "created_at": now}
        case_id = conn.execute(_INSERT_CASE, values).scalar_one()
        events.append(DetractorResponded(rid, case_id))
        opened = {"case_id": case_id, "response_id": rid, "score": score, "reopened": False}
        emit(conn, at=now, kind="case.opened", data=opened, contact_id=contact_id)


def _ids(rid: int, inv_id: int, order_id: str | None, survey: str, channel: str) -> dict[str, Any]:
    """What names a response for the business: its ids, the purchase's order id, the survey."""
    return {
        "response_id": rid,
        "invitation_id": inv_id,
        "order_id": order_id,
        "survey": survey,
        "channel": channel,
    }


def _completed_data(rid: int) -> Callable[[Connection], dict[str, Any]]:
    """The response as `response.completed` tells it (read only when someone listens)."""

    def read(conn: Connection) -> dict[str, Any]:
        r = conn.execute(
            select(RESPONSES, _inv.order_id, SURVEYS.c.key.label("survey_key"))
            .join(INVITATIONS, _inv.id == _resp.invitation_id)
            .join(SURVEYS, SURVEYS.c.id == _resp.survey_id)
            .where(_resp.id == rid)
        ).one()
        return _ids(rid, r.invitation_id, r.order_id, r.survey_key, r.channel) | {
            "score": r.score,
            "category": r.category,
            "comment": r.comment,
            "themes": list(r.themes or []),
            "late": r.late,
        }

    return read

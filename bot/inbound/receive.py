"""Inbound messages and delivery reports, applied to the database one customer at a time.

Every webhook, whatever the channel, goes through `handle_webhook`: verify → parse → persist
(idempotent on the provider's id) → conversation → replies. The inbound message and the replies
are committed before the webhook answers; a storage error propagates so the web layer answers
5xx and the provider retries.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Select, Table, bindparam, case, literal_column, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, joinedload

import scoring
from bot.events import ContactOptedOut, DetractorResponded, Event, OutboxQueued, ResponseCompleted
from bot.runtime import Runtime
from bot.storage.db import Prepared, Unit
from bot.storage.messages import (
    outbound_from_payload,
    outbound_from_row,
    outbound_payload,
    queue_outbound,
)
from bot.storage.models import (
    OPEN_STATES,
    Case,
    ContactChannel,
    Invitation,
    Message,
    Response,
    Survey,
)
from bot.storage.models import InvitationState as S
from bot.survey import conversation
from bot.survey.contacts import (
    INBOUND_STATES,
    Found,
    create_for_inbound,
    found_from,
    lock_and_mark,
    mark_seen,
)
from bot.survey.conversation import Incoming, Keyword
from bot.survey.question import read_score
from bot.texts import Texts, texts_for
from channels.base import (
    DeliveryStatus,
    Inbound,
    OptOutKind,
    Outbound,
    StatusUpdate,
    WebRequest,
    WebResponse,
    advances,
)
from channels.errors import BadPayload
from scoring import classify

log = logging.getLogger(__name__)

# A message this soon after the thanks adds to the comment.
APPEND_WINDOW = timedelta(hours=1)
# An answer this soon after a survey expired is still recorded (flagged late).
LATE_WINDOW = timedelta(days=7)
# WhatsApp free-form text outside the 24 h window: https://www.twilio.com/docs/api/errors/63016
OUTSIDE_WINDOW = "63016"


def json_response(status: int, **body: Any) -> WebResponse:
    return WebResponse(status, json.dumps(body).encode(), "application/json")


def handle_webhook(rt: Runtime, route: str, req: WebRequest) -> WebResponse:
    channel = rt.route(route)
    if channel is None:
        return json_response(
            404, error="not_found", reason=f"no channel is configured for {route!r}"
        )
    if not channel.verify(req):
        return json_response(403, error="forbidden", reason="missing or invalid signature")
    try:
        parsed = channel.parse(req)
    except BadPayload as exc:
        return json_response(400, error="bad_request", reason=str(exc))
    replies: list[Outbound] = []
    for msg in parsed.messages:
        replies += handle_inbound(rt, msg, inline=channel.inline_replies)
    for status in parsed.statuses:
        apply_status(rt, status)
    return channel.respond(req, replies if channel.inline_replies else [])


# --- inbound --------------------------------------------------------------------------------


def _insert_stmt(dialect: str) -> Any:
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    return (
        insert(MESSAGES)
        .on_conflict_do_nothing(index_elements=["channel", "direction", "provider_id"])
        .returning(MESSAGES.c.id)
    )


# Statements built once per process: building them per webhook (coercing every value, walking
# the tree for a cache key) cost more than SQLite running them. Core on the table, not the ORM
# entity, so no unit-of-work bookkeeping for rows nothing reads back.
MESSAGES = cast(Table, Message.__table__)
CHANNELS = cast(Table, ContactChannel.__table__)
_INSERT_INBOUND = {d: Prepared(_insert_stmt(d)) for d in ("postgresql", "sqlite")}
_INSERT_OUT = Prepared(MESSAGES.insert())
_OPTED_OUT = (
    update(CHANNELS).where(CHANNELS.c.id == bindparam("cc")).values(opted_out_at=bindparam("at"))
)


def _inbound_row(m: Inbound) -> dict[str, Any]:
    """The message's row, but the columns the lookup's parameters give (see `_RECEIVE`)."""
    return dict(
        provider_id=m.provider_id,
        direction="in",
        kind="button" if m.button else "text",
        text=m.text,
        payload={
            "media_count": m.media_count,
            "button": m.button,
            "reply_to": m.reply_to,
            "chat_type": m.chat_type,
            "chat_id": m.chat_id,
            "sender_name": m.sender_name,
            "opt_out": m.opt_out,
            "start_payload": m.start_payload,
        },
        status="received",
        attempts=0,
    )


# The names of those columns (any message gives the same keys).
_ROW = tuple(_inbound_row(Inbound(channel="", sender="", text="", provider_id="")))
# PostgreSQL: the sender's lookup (`lock_and_mark`) stores the message too, for the sender it
# found: one statement and one round trip fewer per message. The id is None for a redelivery.
_RECEIVE = Prepared(
    lock_and_mark(
        then=", stored AS (INSERT INTO messages"
        f" (channel, address, contact_id, created_at, {', '.join(_ROW)})"
        f" SELECT :channel, :address, sender.contact_id, :now, {', '.join(':' + c for c in _ROW)}"
        " FROM sender ON CONFLICT (channel, direction, provider_id) DO NOTHING RETURNING id)",
        also=", (SELECT id FROM stored)",
    ).bindparams(bindparam("payload", type_=MESSAGES.c.payload.type))
)


def _receive(
    rt: Runtime, conn: Connection, m: Inbound, row: dict[str, Any], now: datetime
) -> tuple[Found | None, bool, int | None]:
    """The sender, marked seen and locked for the transaction, with its context (`Found`;
    None for a sender never seen), whether the message is stored yet, and its id."""
    if not rt.db.postgres:
        return mark_seen(conn, m, now), False, None
    params = {"channel": m.channel, "address": m.sender, "now": now, **row}
    rows = _RECEIVE.rows(conn, params)
    return (found_from(rows[0]), True, rows[0][5]) if rows else (None, False, None)


def _insert_inbound(
    conn: Connection, m: Inbound, row: dict[str, Any], now: datetime, contact_id: int | None
) -> int | None:
    """Store the message; None when this provider id was stored before (a redelivery)."""
    values = dict(row, channel=m.channel, address=m.sender, contact_id=contact_id, created_at=now)
    rows = _INSERT_INBOUND[conn.dialect.name].rows(conn, values)
    return rows[0].id if rows else None


def _store_replies(
    conn: Connection,
    replies: list[Outbound],
    *,
    contact_id: int | None,
    in_reply_to: int,
    inline: bool,
    now: datetime,
) -> None:
    """The replies' rows, as `queue_outbound` would add them, in one Core insert."""
    status = DeliveryStatus.SENT if inline else DeliveryStatus.QUEUED
    rows = [
        dict(
            channel=r.channel,
            direction="out",
            provider_id=None,
            address=r.to,
            contact_id=contact_id,
            invitation_id=None,
            in_reply_to_id=in_reply_to,
            kind="reply",
            text=r.text,
            payload=outbound_payload(r),
            status=status,
            error_code=None,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            status_at=now if inline else None,
        )
        for r in replies
    ]
    _INSERT_OUT.many(conn, rows)


_ORIGINAL = (
    select(MESSAGES.c.id)
    .where(
        MESSAGES.c.channel == bindparam("channel"),
        MESSAGES.c.direction == "in",
        MESSAGES.c.provider_id == bindparam("provider_id"),
    )
    .scalar_subquery()
)
_REPLIES = (
    select(MESSAGES.c.payload).where(MESSAGES.c.in_reply_to_id == _ORIGINAL).order_by(MESSAGES.c.id)
)


def _previous_replies(conn: Connection, m: Inbound) -> list[Outbound]:
    params = {"channel": m.channel, "provider_id": m.provider_id}
    return [outbound_from_payload(p) for p in conn.scalars(_REPLIES, params)]


def handle_inbound(rt: Runtime, m: Inbound, *, inline: bool = False) -> list[Outbound]:
    """Apply one inbound message; returns the replies (already stored)."""
    now = rt.clock()
    events: list[Event] = []
    # Core statements on the unit's connection (none of the ORM's execution steps); the ORM
    # session only for the rarer branches (a new sender, STOP, /start, staff).
    with rt.db.unit_for_update() as u:
        private = m.chat_type == "private"
        row = _inbound_row(m)
        found, stored, msg_id = (
            _receive(rt, u.conn, m, row, now) if private else (None, False, None)
        )
        if private and found is None:
            # A sender's first message: the contact first, so the message row names it (a
            # redelivery cannot get here: its first delivery created the contact).
            found = create_for_inbound(rt, u.session, m, now)
            u.flush()
        contact_id = found.contact_id if found else None
        if not stored:
            msg_id = _insert_inbound(u.conn, m, row, now, contact_id)
        if msg_id is None:
            log.info("duplicate %s message %s: answering as before", m.channel, m.provider_id)
            return _previous_replies(u.conn, m)
        if found is None:
            # Group chats never enter a customer survey (staff chats are groups).
            replies = rt.on_group(rt, u.session, m, msg_id, now) if rt.on_group else _ack(m)
        else:
            replies = _converse(rt, u, m, found, now, events)
        if replies:
            u.flush()  # an ORM branch's rows before the replies that may point at them
            _store_replies(
                u.conn,
                replies,
                contact_id=contact_id,
                in_reply_to=msg_id,
                inline=inline,
                now=now,
            )
        if replies and not inline:
            events.append(OutboxQueued())
    rt.bus.publish(*events)
    return replies


def _ack(m: Inbound) -> list[Outbound]:
    """Stop the client's spinner on a tapped button nobody handles (an empty callback answer)."""
    if m.callback_id is None:
        return []
    return [
        Outbound(channel=m.channel, to=m.chat_id or m.sender, text="", callback_id=m.callback_id)
    ]


def _texts(rt: Runtime, language: str | None, survey_texts: dict[str, Any] | None = None) -> Texts:
    return texts_for(
        language,
        survey_texts,
        default=rt.settings.default_language,
        business=rt.settings.business_name,
    )


def _converse(
    rt: Runtime, u: Unit, m: Inbound, found: Found, now: datetime, events: list[Event]
) -> list[Outbound]:
    def reply(text: str, **extra: Any) -> Outbound:
        return Outbound(channel=m.channel, to=m.sender, text=text, **extra)

    texts = _texts(rt, found.language)
    if m.channel == "telegram" and m.text.startswith("/start"):
        return _start(rt, u.session, m, found, now, events, texts, reply)
    # The provider already confirmed its own STOP/START/HELP (Twilio Advanced Opt-Out).
    provider_said = m.opt_out is not None
    kw = (
        {
            OptOutKind.STOP: Keyword.STOP,
            OptOutKind.START: Keyword.START,
            OptOutKind.HELP: Keyword.HELP,
        }.get(m.opt_out)
        if m.opt_out
        else conversation.keyword(m.text)
    )
    if kw is Keyword.STOP:
        u.conn.execute(_OPTED_OUT, {"cc": found.cc_id, "at": now})
        for open_inv in _open_invitations(rt, u.session, found.contact_id):
            open_inv.state = S.OPTED_OUT
        events.append(ContactOptedOut(found.contact_id, m.channel))
        return [] if provider_said else [reply(texts("stopped"))]
    if kw is Keyword.START:
        u.conn.execute(_OPTED_OUT, {"cc": found.cc_id, "at": None})
        return [] if provider_said else [reply(texts("started"))]
    if kw is Keyword.HELP:
        return [] if provider_said else [reply(texts("help"))]

    # One query: the open invitation, or else the last closed one (for _no_open_survey); none
    # when the contact lookup saw that this customer was never surveyed.
    conn = u.conn
    rows = (
        _LATEST[rt.db.postgres].rows(conn, {"contact_id": found.contact_id})
        if found.surveyed
        else []
    )
    row = rows[0] if rows else None
    inv, last = (row, None) if row is not None and row.state in OPEN_STATES else (None, row)
    button_score: int | None = None
    if m.button is not None:
        tapped = read_score(rt.settings.secret_key, m.button)
        if tapped is not None and inv is not None and tapped[0] == inv.id:
            button_score = tapped[1]
        elif tapped is not None or m.callback_id is not None:
            # A forged button, or one from a survey that is no longer open.
            return [reply(texts("stale_button"), callback_id=m.callback_id)]
        # Otherwise a WhatsApp template quick reply: its payload is fixed, not our signed
        # data, and its label (Twilio's Body) is read like a typed reply.
    if inv is None:
        if rt.on_case_message is not None and found.in_case:
            relayed = rt.on_case_message(rt, u.session, m, found.contact_id, now)
            if relayed is not None:
                return relayed
        return _no_open_survey(rt, conn, m, last, found.contact_id, now, events, texts, reply)

    texts = _texts(rt, inv.language, inv.texts)
    turn = conversation.step(
        S(inv.state),
        inv.reasks,
        inv.score,  # None: no response yet
        Incoming(m.text, m.media_count, button_score, inv.language),
        texts,
    )
    if turn.state != inv.state or turn.reasks != inv.reasks:
        _UPDATE_INVITATION.rows(
            conn, {"inv_id": inv.id, "state": turn.state, "reasks": turn.reasks}
        )
    answer = _Answer.of(inv)
    values: dict[str, Any] = {}
    if turn.score is not None:
        answer.score, answer.category = turn.score, classify(turn.score)
        values |= {"score": answer.score, "category": answer.category}
    if turn.comment is not None and answer.score is not None:
        values |= _comment(answer, turn.comment, append=turn.append, now=now)
    if answer.id is None and answer.score is not None:
        answer.id = _insert_response(
            conn, inv, found.contact_id, m.channel, now, late=False, **values
        )
    elif values and answer.id is not None:
        _UPDATE_RESPONSE.rows(conn, {"rid": answer.id, **values})
    if turn.completed and answer.id is not None and answer.completed_at is None:
        _complete(conn, answer, inv.id, found.contact_id, now, events)
    out: list[Outbound] = []
    if m.callback_id is not None:
        # Show the chosen score on the question itself, and stop the client's spinner.
        chosen = texts("score_chosen", score=button_score)
        out.append(
            reply(f"{texts('question')}\n\n{chosen}", callback_id=m.callback_id, edit_of=m.reply_to)
        )
    out += [reply(t) for t in turn.replies]
    return out


def _start(
    rt: Runtime,
    s: Session,
    m: Inbound,
    found: Found,
    now: datetime,
    events: list[Event],
    texts: Texts,
    reply: Any,
) -> list[Outbound]:
    """`/start <payload>` from a deep link: link the chat, and send the pending survey now."""
    if not m.start_payload:
        return [reply(texts("help"))]
    inv = s.scalar(select(Invitation).where(Invitation.link_token == m.start_payload))
    fresh = inv is not None and inv.link_expires_at is not None and inv.link_expires_at > now
    if inv is None or not fresh or inv.contact_id != found.contact_id:
        return [reply(texts("stale_button"))]
    inv.link_token = None  # single use
    if inv.state == S.SCHEDULED:
        inv.channels = ["telegram", *[c for c in inv.channels if c != "telegram"]]
        inv.due_at = now  # the customer is here now: no quiet hours, no delay
        events.append(OutboxQueued())
    return []


def complete(s: Session, response: Response, now: datetime, events: list[Event]) -> None:
    """Close a response: it counts from now on, and a detractor becomes a case for staff."""
    if response.completed_at is not None:
        return
    response.completed_at = now
    s.flush()
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


def _open_invitations(rt: Runtime, s: Session, contact_id: int) -> list[Invitation]:
    stmt = (
        select(Invitation)
        .options(joinedload(Invitation.survey), joinedload(Invitation.response))
        .where(Invitation.contact_id == contact_id, Invitation.state.in_(OPEN_STATES))
        .order_by(Invitation.id.desc())
    )
    if rt.db.postgres:
        stmt = stmt.with_for_update(of=Invitation)
    return list(s.scalars(stmt))


INVITATIONS = cast(Table, Invitation.__table__)
RESPONSES = cast(Table, Response.__table__)
SURVEYS = cast(Table, Survey.__table__)
CASES = cast(Table, Case.__table__)


def _latest_stmt(lock: bool) -> Select[Any]:
    """The invitation a message acts on, with its survey's texts and its response, as one row."""
    inv, resp = INVITATIONS.c, RESPONSES.c
    # The states as SQL literals: a list of values is an "expanding" parameter, rendered into
    # the SQL again on every execution.
    is_open = inv.state.in_([literal_column(f"'{st.value}'") for st in OPEN_STATES])
    inbound = inv.state.in_([literal_column(f"'{st.value}'") for st in INBOUND_STATES])
    stmt = (
        select(
            inv.id,
            inv.state,
            inv.reasks,
            inv.language,
            inv.survey_id,
            inv.updated_at,
            SURVEYS.c.texts,
            resp.id.label("response_id"),
            resp.score,
            resp.category,
            resp.comment,
            resp.completed_at,
        )
        .select_from(
            INVITATIONS.join(SURVEYS, SURVEYS.c.id == inv.survey_id).outerjoin(
                RESPONSES, resp.invitation_id == inv.id
            )
        )
        .where(inv.contact_id == bindparam("contact_id"), inbound)
        # Open ones first, newest first; then closed ones, last updated first.
        .order_by(
            case((is_open, 0), else_=1),
            case((is_open, None), else_=inv.updated_at).desc(),
            inv.id.desc(),
        )
        .limit(1)
    )
    return stmt.with_for_update(of=INVITATIONS) if lock else stmt


# The answer's writes: Core statements on the tables, built once (the ORM's unit of work cost
# a third of a survey answer). `updated_at` comes from the columns' `onupdate`, as before.
_LATEST = {False: Prepared(_latest_stmt(False)), True: Prepared(_latest_stmt(True))}
_UPDATE_INVITATION = Prepared(INVITATIONS.update().where(INVITATIONS.c.id == bindparam("inv_id")))
# SET takes whichever of score, category, comment… the parameters name.
_UPDATE_RESPONSE = Prepared(RESPONSES.update().where(RESPONSES.c.id == bindparam("rid")))
_INSERT_RESPONSE = Prepared(RESPONSES.insert().returning(RESPONSES.c.id))
_INSERT_CASE = Prepared(CASES.insert().returning(CASES.c.id))


@dataclass
class _Answer:
    """The response a message updates, as the conversation sees it."""

    id: int | None
    score: int | None
    category: str | None
    comment: str | None
    completed_at: datetime | None

    @staticmethod
    def of(row: Any) -> _Answer:
        return _Answer(row.response_id, row.score, row.category, row.comment, row.completed_at)


def _comment(answer: _Answer, text: str, *, append: bool, now: datetime) -> dict[str, Any]:
    """The response's new comment columns (and `answer.comment` set to the new comment)."""
    comment = f"{answer.comment}\n{text}" if append and answer.comment else text
    answer.comment = comment
    analysis = scoring.analyze_comment(comment, score=answer.score)
    return {
        "comment": comment,
        "commented_at": now,
        "themes": list(analysis.themes),
        "sentiment": analysis.sentiment,
        "comment_language": analysis.language,
        "contradiction": analysis.contradiction,
    }


def _insert_response(
    conn: Connection,
    inv: Any,
    contact_id: int,
    channel: str,
    now: datetime,
    *,
    late: bool,
    **values: Any,
) -> int:
    """A new response to `inv` (score and category in `values`); its id."""
    row = dict(
        invitation_id=inv.id,
        survey_id=inv.survey_id,
        contact_id=contact_id,
        channel=channel,
        scored_at=now,
        late=late,
        **values,
    )
    return int(_INSERT_RESPONSE.rows(conn, row)[0].id)


def _complete(
    conn: Connection,
    answer: _Answer,
    inv_id: int,
    contact_id: int,
    now: datetime,
    events: list[Event],
) -> None:
    """`complete` for a response handled as a row (the survey answer path)."""
    assert answer.id is not None and answer.score is not None and answer.category is not None
    _UPDATE_RESPONSE.rows(conn, {"rid": answer.id, "completed_at": now})
    answer.completed_at = now
    _completed(conn, answer.id, inv_id, contact_id, answer.score, answer.category, now, events)


def _completed(
    conn: Connection,
    rid: int,
    inv_id: int,
    contact_id: int,
    score: int,
    category: str,
    now: datetime,
    events: list[Event],
) -> None:
    events.append(ResponseCompleted(rid, inv_id, score, category))
    if category == "detractor":
        values = {"response_id": rid, "contact_id": contact_id, "created_at": now}
        case_id = _INSERT_CASE.rows(conn, values)[0].id
        events.append(DetractorResponded(rid, int(case_id)))


def _no_open_survey(
    rt: Runtime,
    conn: Connection,
    m: Inbound,
    last: Any,
    contact_id: int,
    now: datetime,
    events: list[Event],
    texts: Texts,
    reply: Any,
) -> list[Outbound]:
    """A message with no survey open: `last` (a `_LATEST` row, or None) is the last one closed."""
    if last is not None and m.text.strip():
        texts = _texts(rt, last.language, last.texts)
        answer = _Answer.of(last)
        if (
            last.state == S.COMPLETED
            and answer.id is not None
            and answer.completed_at is not None
            and now - answer.completed_at <= APPEND_WINDOW
        ):
            values = _comment(answer, m.text.strip(), append=True, now=now)
            _UPDATE_RESPONSE.rows(conn, {"rid": answer.id, **values})
            return [reply(texts("added"))]
        if last.state == S.EXPIRED and answer.id is None and now - last.updated_at <= LATE_WINDOW:
            score = scoring.parse_score(m.text, last.language)
            if score is not None:
                # A late answer is recorded, flagged, and never lost.
                answer.score, answer.category = score, classify(score)
                values = {"score": score, "category": answer.category}
                reason = conversation.reason_from(m.text)
                if reason:
                    values |= _comment(answer, reason, append=False, now=now)
                answer.id = _insert_response(
                    conn, last, contact_id, m.channel, now, late=True, **values
                )
                _complete(conn, answer, last.id, contact_id, now, events)
                return [reply(texts("late"))]
    return [reply(texts("no_survey"))]


# --- delivery reports -------------------------------------------------------------------------


def apply_status(rt: Runtime, st: StatusUpdate) -> None:
    """Move an outbound message's status forward (never back: reports arrive out of order)."""
    events: list[Event] = []
    with rt.db.session_for_update() as s:
        stmt = select(Message).where(
            Message.channel == st.channel,
            Message.direction == "out",
            Message.provider_id == st.provider_id,
        )
        if rt.db.postgres:
            stmt = stmt.with_for_update()
        row = s.scalar(stmt)
        if row is None:
            log.info("status for unknown %s message %s ignored", st.channel, st.provider_id)
            return
        known = {s.value for s in DeliveryStatus}
        current = DeliveryStatus(row.status) if row.status in known else None
        if advances(current, st.status):
            row.status = st.status
            row.error_code = st.error_code
            row.status_at = st.at or rt.clock()
            if st.error_code == OUTSIDE_WINDOW and row.payload.get("template"):
                # The free-form text was refused after the fact: send the approved template.
                msg = replace(outbound_from_row(row), needs_template=True)
                queue_outbound(
                    s,
                    msg,
                    contact_id=row.contact_id,
                    invitation_id=row.invitation_id,
                    kind=row.kind,
                    now=rt.clock(),
                )
                events.append(OutboxQueued())
    rt.bus.publish(*events)

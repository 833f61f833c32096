"""Recording send outcomes, many in one short transaction.

Sent: `asked`, with its question row (`bot.storage.messages.write_sent`). Lapsed: provably not
sent, back to `scheduled`. Failed, by type: stopped or unreachable (marked, then the next
channel in the same batch), outside the session window (the next channel), retryable
(rescheduled with backoff), else failed. Records and put-backs match the claim by
`lease_until`, which an operator's `resend` clears and a new claim replaces.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, or_, select, update
from sqlalchemy.engine import Connection

from bot.events import Event
from bot.runtime import Runtime
from bot.storage.messages import SentRow, write_sent
from bot.storage.models import Contact, ContactChannel, Invitation
from bot.storage.models import InvitationState as S
from bot.survey import optout
from channels.base import Outbound, Sent
from channels.errors import ContactStopped, OutsideWindow, SendError, Throttled, Unreachable
from scheduler.dispatch.plan import Batch, Job
from scheduler.dispatch.send import Lapsed, Outcome
from scheduler.retry import MAX_ATTEMPTS, backoff

log = logging.getLogger(__name__)

INV = cast(Table, Invitation.__table__)
CCH = cast(Table, ContactChannel.__table__)
CON = cast(Table, Contact.__table__)
# Not IN (...): an expanding parameter cannot be used with executemany.
_SENDING_OR_UNKNOWN = or_(INV.c.state == S.SENDING, INV.c.state == S.UNKNOWN)
_ASKED = (
    update(INV)
    .where(INV.c.id == bindparam("b_id"), _SENDING_OR_UNKNOWN)
    .values(
        state=S.ASKED,
        channel=bindparam("b_channel"),
        sent_at=bindparam("b_at"),
        expires_at=bindparam("b_expires"),
        updated_at=bindparam("b_at"),
        lease_until=None,
        last_error=None,
    )
)
# Provably not sent: back to the queue, even if a sweep already said `unknown`.
_PUT_BACK = (
    update(INV)
    .where(
        INV.c.id == bindparam("b_id"),
        _SENDING_OR_UNKNOWN,
        INV.c.lease_until == bindparam("b_lease"),
    )
    .values(state=S.SCHEDULED, lease_until=None, attempts=INV.c.attempts - 1)
)


def record(rt: Runtime, batch_of: dict[int, Batch], done: list[tuple[Job, Outcome]]) -> list[Job]:
    """Record a bunch of send results in one transaction; returns the jobs to send again now
    (on their next channel)."""
    sent = [(j, o) for j, o in done if isinstance(o, tuple)]
    lapsed = [j for j, o in done if isinstance(o, Lapsed)]
    errors = [(j, o) for j, o in done if isinstance(o, SendError)]
    again: list[Job] = []
    events: list[Event] = []
    with rt.db.session_for_update() as s:
        conn = s.connection()
        if sent:
            _record_sent(conn, sent)
        if lapsed:
            conn.execute(_PUT_BACK, [{"b_id": j.id, "b_lease": j.lease_until} for j in lapsed])
        now = rt.clock()
        for j, exc in errors:
            if _failed(conn, batch_of[j.id], j, exc, now, events):
                again.append(j)
    rt.bus.publish(*events)
    return again


def _present(conn: Connection, ids: set[int]) -> set[int]:
    """Which of these contacts still exist, held (FOR KEY SHARE on PostgreSQL) until the commit:
    an erasure of one waits for this record, or this record sees it gone."""
    return set(
        conn.scalars(select(CON.c.id).where(CON.c.id.in_(ids)).with_for_update(key_share=True))
    )


def _tombstone(r: SentRow) -> SentRow:
    """The question's row for a customer erased while it was being sent (the erasure skipped
    the invitation): its provider id (a status callback finds it), no address, no text."""
    return replace(r, msg=Outbound(channel=r.msg.channel, to="", text=""), contact_id=None)


def _record_sent(conn: Connection, sent: list[tuple[Job, tuple[Sent, datetime]]]) -> None:
    present = _present(conn, {j.plan.contact_id for j, _ in sent if j.plan is not None})
    asked: list[dict[str, Any]] = []
    rows: list[SentRow] = []
    for j, (result, at) in sent:
        assert j.plan is not None
        asked.append(
            {
                "b_id": j.id,
                "b_channel": j.plan.channel,
                "b_at": at,
                "b_expires": at + timedelta(hours=j.survey.expiry_hours),
            }
        )
        rows.append(
            SentRow(
                msg=j.plan.message,
                provider_id=result.provider_id,
                status=result.status,
                contact_id=j.plan.contact_id,
                invitation_id=j.id,
                kind="question",
                at=at,
            )
        )
    conn.execute(_ASKED, asked)
    write_sent(conn, [r if r.contact_id in present else _tombstone(r) for r in rows])


def _failed(
    conn: Connection, batch: Batch, j: Job, exc: SendError, now: datetime, events: list[Event]
) -> bool:
    """Record a failed send (rare: one row at a time). True when the next channel is planned and
    the invitation should be sent again now, under the same lease."""
    assert j.plan is not None
    channel = j.plan.channel
    log.warning("sending invitation %s on %s failed: %s", j.id, channel, type(exc).__name__)
    error = f"{channel}: {type(exc).__name__}" + (f" {exc.code}" if exc.code else "")
    cid = j.contact_id
    known = channel in batch.reach(cid)
    where_cc = (CCH.c.contact_id == cid, CCH.c.channel == channel)
    next_channel = False
    if isinstance(exc, ContactStopped) and known:
        batch.mark(cid, channel, stopped=True)
        if _present(conn, {cid}):  # an erasure meanwhile: no consent row for a contact gone
            # The customer's STOP went to the provider, not to us: an opt-out like a keyword's.
            optout.opt(
                conn, cid, channel, out=True, method="provider", source=None, now=now, events=events
            )
        next_channel = True
    elif isinstance(exc, OutsideWindow):
        next_channel = True  # no template for this language: try the next channel, keep this one
    elif isinstance(exc, Unreachable) and known:
        batch.mark(cid, channel, stopped=False)
        conn.execute(
            update(CCH).where(*where_cc).values(unreachable_at=now, unreachable_reason=error)
        )
        next_channel = True
    ours = (INV.c.id == j.id, INV.c.state == S.SENDING, INV.c.lease_until == j.lease_until)
    if next_channel:
        j.tried.add(channel)
        j.plan = batch.plan(conn, j, now)
        if j.plan is not None:
            res = conn.execute(
                update(INV).where(*ours).values(channel=j.plan.channel, last_error=error)
            )
            # Swept to `unknown` meanwhile: left to the operator, like any lapsed lease.
            return bool(res.rowcount)
        values: dict[str, Any] = {"state": S.FAILED}
    elif exc.retryable and j.attempts < MAX_ATTEMPTS:
        retry = exc.retry_after if isinstance(exc, Throttled) else None
        values = {"state": S.SCHEDULED, "due_at": now + backoff(j.attempts, retry)}
    else:
        values = {"state": S.FAILED}
    conn.execute(update(INV).where(*ours).values(lease_until=None, last_error=error, **values))
    return False

"""Sending queued replies (conversation replies on channels that cannot answer inline).

Replies get the invitations' treatment (`scheduler.dispatch`): a batch is claimed under one lease
(`lease_until`, `DISPATCH_LEASE_SECONDS`); a send *starts* only while `now < lease_until - guard`
(`scheduler.retry.guard`), so the sweep, which makes a `sending` reply `unknown` once its lease
has passed, never acts on one still being sent. A worker that dies mid-send leaves its replies to
become `unknown` for an operator (`npsbot outbox unknown|resolve`): the provider may have them,
so they are never resent silently. Each reply's outcome is recorded on its own: a record that
fails (the database away for a moment) is tried once more at the end of the batch and never
stops the batch's other replies from being sent and recorded.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from bot.runtime import Runtime
from bot.storage.messages import FORGET, forget_sent, outbound_from_row
from bot.storage.models import Message
from channels.base import Outbound
from channels.errors import SendError, Throttled
from scheduler.claim import claim
from scheduler.retry import MAX_ATTEMPTS, backoff, guard, lease_for
from scheduler.send import Sender

log = logging.getLogger(__name__)

Result = dict[str, Any]


def send_outbox(rt: Runtime, now: datetime, sender: Sender, limit: int = 100) -> int:
    """Send due queued replies at their channels' pace; returns how many were claimed."""
    lease_until = now + lease_for(rt)
    with rt.db.session_for_update() as s:
        rows = claim(
            s,
            select(Message)
            .where(
                Message.direction == "out",
                Message.status == "queued",
                # A provider id means the provider accepted it (Twilio answers "queued"): sent.
                Message.provider_id.is_(None),
                Message.next_attempt_at <= now,
            )
            .order_by(Message.id)
            .limit(limit),
            rt.db.postgres,
        )
        for row in rows:
            row.status = "sending"
            row.attempts += 1
            row.next_attempt_at = now
            row.lease_until = lease_until
        work = [(row.id, outbound_from_row(row), row.attempts, row.kind) for row in rows]
    deadline = lease_until - guard(rt)
    unrecorded = []
    for row_id, msg, attempts, kind in work:
        result = _send(rt, sender, row_id, msg, attempts, deadline)
        if result is not None and not _record(rt, row_id, lease_until, result, kind):
            unrecorded.append((row_id, result, kind))
    for row_id, result, kind in unrecorded:
        # Once more: a short outage need not leave a reply whose outcome is known `unknown`.
        if not _record(rt, row_id, lease_until, result, kind):
            log.error("reply %s: outcome not recorded; its lease will make it unknown", row_id)
    return len(work)


def _send(
    rt: Runtime, sender: Sender, row_id: int, msg: Outbound, attempts: int, deadline: datetime
) -> Result | None:
    """One reply's send and what to record of it; None when it may or may not have gone out
    (left to its lease, then an operator)."""
    try:
        sender.wait(msg.channel)
        # The lease invariant (module doc): too late to start, so not sent, and queued again.
        if rt.clock() >= deadline:
            return {"status": "queued", "next_attempt_at": rt.clock(), "attempts": attempts - 1}
        sent = sender.deliver(msg)
    except SendError as exc:
        log.warning("reply %s on %s failed: %s", row_id, msg.channel, type(exc).__name__)
        if exc.retryable and attempts < MAX_ATTEMPTS:
            retry = exc.retry_after if isinstance(exc, Throttled) else None
            return {"status": "queued", "next_attempt_at": rt.clock() + backoff(attempts, retry)}
        return {"status": "failed", "error_code": exc.code or type(exc).__name__[:16]}
    except Exception:
        log.exception("sending reply %s on %s crashed", row_id, msg.channel)
        return None
    return {"status": sent.status, "provider_id": sent.provider_id}


def _record(rt: Runtime, row_id: int, lease_until: datetime, result: Result, kind: str) -> bool:
    """Write one reply's outcome while this worker's lease still holds it; False if the
    database could not take it. A FORGET reply (an erasure's confirmation) keeps nothing of
    the person once sent or failed."""
    try:
        with rt.db.session_for_update() as s:
            done = s.execute(
                update(Message)
                .where(
                    Message.id == row_id,
                    Message.status == "sending",
                    Message.lease_until == lease_until,
                )
                .values(lease_until=None, status_at=rt.clock(), **result)
            )
            if kind == FORGET:
                forget_sent(s.connection(), row_id)
    except SQLAlchemyError as exc:
        log.warning("recording reply %s failed: %s", row_id, type(exc).__name__)
        return False
    if not done.rowcount:  # type: ignore[attr-defined]
        # Swept to `unknown` meanwhile: left to the operator, like any lapsed lease.
        log.warning("reply %s: its lease had lapsed; left to an operator", row_id)
    return True

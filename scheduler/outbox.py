"""Sending queued replies (conversation replies on channels that cannot answer inline)."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select

from bot.runtime import Runtime
from bot.storage.messages import outbound_from_row
from bot.storage.models import Message
from channels.errors import SendError, Throttled
from scheduler.claim import claim
from scheduler.retry import MAX_ATTEMPTS, backoff
from scheduler.send import Sender

log = logging.getLogger(__name__)


def send_outbox(rt: Runtime, now: datetime, sender: Sender, limit: int = 100) -> int:
    """Send due queued replies at their channels' pace; returns how many were attempted."""
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
        work = [(row.id, outbound_from_row(row), row.attempts) for row in rows]
    for row_id, msg, attempts in work:
        result: dict[str, object]
        try:
            sent = sender.send(msg)
            result = {"status": sent.status, "provider_id": sent.provider_id}
        except SendError as exc:
            log.warning("reply %s on %s failed: %s", row_id, msg.channel, type(exc).__name__)
            if exc.retryable and attempts < MAX_ATTEMPTS:
                retry = exc.retry_after if isinstance(exc, Throttled) else None
                result = {
                    "status": "queued",
                    "next_attempt_at": rt.clock() + backoff(attempts, retry),
                }
            else:
                result = {"status": "failed", "error_code": exc.code or type(exc).__name__[:16]}
        with rt.db.session() as s:
            row = s.get(Message, row_id)
            if row is not None:
                for key, value in result.items():
                    setattr(row, key, value)
                row.status_at = rt.clock()
    return len(work)

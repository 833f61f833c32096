"""Retries and leases: when a failed send is tried again, how long a worker holds its work, and
the sweep that turns a lapsed lease into a visible state."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import update

from bot.runtime import Runtime
from bot.storage.models import Invitation, Message
from bot.storage.models import InvitationState as S

MAX_ATTEMPTS = 6


def backoff(attempt: int, retry_after: float | None = None) -> timedelta:
    """Exponential backoff with full jitter, at least what the provider asked for."""
    base = min(3600.0, 15.0 * 2 ** max(attempt - 1, 0))
    return timedelta(seconds=max(retry_after or 0.0, random.uniform(base / 2, base)))


def lease_for(rt: Runtime) -> timedelta:
    """How long a worker holds invitations or replies it sends (`DISPATCH_LEASE_SECONDS`)."""
    return timedelta(seconds=rt.settings.dispatch_lease_seconds)


def guard(rt: Runtime) -> timedelta:
    """A send starts only while `now < lease_until - guard`: half the lease, at most the HTTP
    timeout and a second, so it can finish and be recorded before the lease runs out."""
    return min(lease_for(rt) / 2, timedelta(seconds=rt.settings.http_timeout + 1))


def sweep(rt: Runtime, now: datetime) -> None:
    """Time-based moves: expired leases (invitations, outbox replies) become `unknown`,
    unanswered surveys expire."""
    with rt.db.session() as s:
        s.execute(
            update(Invitation)
            .where(Invitation.state == S.SENDING, Invitation.lease_until < now)
            .values(
                state=S.UNKNOWN, last_error="lease expired: the send may or may not have happened"
            )
        )
        s.execute(
            update(Invitation)
            .where(Invitation.state == S.ASKED, Invitation.expires_at < now)
            .values(state=S.EXPIRED, updated_at=now)
        )
        s.execute(
            update(Message)
            .where(
                Message.direction == "out",
                Message.status == "sending",
                Message.provider_id.is_(None),  # always, while sending: the outbox index's rows
                Message.lease_until < now,
            )
            # Never resent by itself: the provider may have it (`npsbot outbox unknown`).
            .values(status="unknown", lease_until=None, status_at=now)
        )

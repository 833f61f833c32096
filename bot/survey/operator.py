"""What an operator decides: sends left `unknown` by a worker that died mid-send — invitations
(`npsbot invitations unknown|resolve`) and outbox replies (`npsbot outbox unknown|resolve`).

The rule is the same for both: only an `unknown` send is resolved, as `sent` (the customer got
it), `resend` (due again now) or `failed` (given up)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from bot.runtime import Runtime
from bot.storage.models import Invitation, InvitationState, Message

S = InvitationState
UNKNOWN = "unknown"  # the invitations' and the replies' state alike
OUTCOMES = ("sent", "resend", "failed")


def _check(noun: str, row_id: int, found: bool, state: str | None, outcome: str) -> None:
    """The one rule of a resolution: an existing `unknown` send, a known outcome."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    if not found:
        raise ValueError(f"no {noun} {row_id}")
    if state != UNKNOWN:
        raise ValueError(f"{noun} {row_id} is {state}, not unknown")


def unknown_invitations(rt: Runtime) -> list[tuple[int, str | None, str | None, datetime]]:
    with rt.db.session() as s:
        rows = s.execute(
            select(Invitation.id, Invitation.order_id, Invitation.channel, Invitation.updated_at)
            .where(Invitation.state == S.UNKNOWN)
            .order_by(Invitation.id)
        )
        return [(r[0], r[1], r[2], r[3]) for r in rows]


def resolve_unknown(rt: Runtime, invitation_id: int, outcome: str) -> None:
    now = rt.clock()
    with rt.db.session_for_update() as s:
        inv = s.get(Invitation, invitation_id)
        _check("invitation", invitation_id, inv is not None, inv.state if inv else None, outcome)
        assert inv is not None
        if outcome == "sent":
            inv.state, inv.sent_at = S.ASKED, inv.sent_at or now
            inv.channel = inv.channel or (inv.channels[0] if inv.channels else None)
            inv.expires_at = now + timedelta(hours=inv.survey.expiry_hours)
        elif outcome == "resend":
            inv.state, inv.due_at, inv.lease_until = S.SCHEDULED, now, None
        else:
            inv.state = S.FAILED
        inv.last_error = f"resolved by an operator as {outcome}"


def unknown_replies(rt: Runtime) -> list[tuple[int, str, str, str, datetime]]:
    """Outbox replies a worker died sending: (id, channel, address, kind, since)."""
    since = func.coalesce(Message.status_at, Message.next_attempt_at, Message.created_at)
    with rt.db.session() as s:
        rows = s.execute(
            select(Message.id, Message.channel, Message.address, Message.kind, since)
            .where(
                Message.direction == "out",
                Message.status == UNKNOWN,
                Message.provider_id.is_(None),  # the outbox index's rows
            )
            .order_by(Message.id)
        )
        return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]


def resolve_reply(rt: Runtime, message_id: int, outcome: str) -> None:
    now = rt.clock()
    with rt.db.session_for_update() as s:
        msg = s.get(Message, message_id)
        found = msg is not None and msg.direction == "out"
        _check("reply", message_id, found, msg.status if msg else None, outcome)
        assert msg is not None
        if outcome == "sent":
            msg.status, msg.error_code = "sent", None
        elif outcome == "resend":
            msg.status, msg.next_attempt_at, msg.lease_until = "queued", now, None
        else:
            msg.status, msg.error_code = "failed", "operator"
        msg.status_at = now

"""What an operator decides: invitations left `unknown` by a worker that died mid-send."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from bot.runtime import Runtime
from bot.storage.models import Invitation, InvitationState

S = InvitationState


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
        if inv is None:
            raise ValueError(f"no invitation {invitation_id}")
        if inv.state != S.UNKNOWN:
            raise ValueError(f"invitation {invitation_id} is {inv.state}, not unknown")
        if outcome == "sent":
            inv.state, inv.sent_at = S.ASKED, inv.sent_at or now
            inv.channel = inv.channel or (inv.channels[0] if inv.channels else None)
            inv.expires_at = now + timedelta(hours=inv.survey.expiry_hours)
        elif outcome == "resend":
            inv.state, inv.due_at, inv.lease_until = S.SCHEDULED, now, None
        elif outcome == "failed":
            inv.state = S.FAILED
        else:
            raise ValueError(f"unknown outcome {outcome!r}")
        inv.last_error = f"resolved by an operator as {outcome}"

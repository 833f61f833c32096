"""Creating invitations: one survey for one contact after one trigger (a purchase)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import Contact, Invitation, InvitationState, Survey


def survey_by_key(s: Session, key: str) -> Survey | None:
    return s.scalar(select(Survey).where(Survey.key == key))


def create_invitation(
    s: Session,
    survey: Survey,
    contact: Contact,
    *,
    now: datetime,
    order_id: str | None = None,
    occurred_at: datetime | None = None,
    delay_minutes: int | None = None,
    channels: Sequence[str] | None = None,
    meta: Mapping[str, Any] | None = None,
    request_hash: str | None = None,
) -> Invitation:
    occurred = occurred_at or now
    delay = survey.delay_minutes if delay_minutes is None else delay_minutes
    inv = Invitation(
        survey=survey,
        contact=contact,
        order_id=order_id,
        request_hash=request_hash,
        state=InvitationState.SCHEDULED,
        language=contact.language,
        channels=list(channels or survey.channels),
        occurred_at=occurred,
        due_at=max(occurred + timedelta(minutes=delay), now),
        meta=dict(meta or {}),
        created_at=now,
    )
    s.add(inv)
    s.flush()
    return inv

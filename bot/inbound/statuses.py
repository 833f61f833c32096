"""Delivery reports: an outbound message's status moves forward, never back."""

from __future__ import annotations

import logging
from dataclasses import replace

from sqlalchemy import select

from bot.events import Event, OutboxQueued
from bot.runtime import Runtime
from bot.storage.messages import (
    FINAL,
    FORGET,
    clean_status,
    forgotten,
    outbound_from_row,
    queue_outbound,
)
from bot.storage.models import Message
from channels.base import DeliveryStatus, StatusUpdate, advances

log = logging.getLogger(__name__)

_KNOWN = {s.value for s in DeliveryStatus}


def apply_status(rt: Runtime, st: StatusUpdate) -> None:
    """Move an outbound message's status forward (reports arrive out of order); free-form
    text refused outside the session window is sent again as its approved template."""
    events: list[Event] = []
    st = clean_status(st)
    with rt.db.session_for_update() as s:
        # FOR UPDATE on PostgreSQL; SQLite renders none (the session holds the writer lock).
        row = s.scalar(
            select(Message)
            .where(
                Message.channel == st.channel,
                Message.direction == "out",
                Message.provider_id == st.provider_id,
            )
            .with_for_update()
        )
        if row is None:
            log.info("status for unknown %s message %s ignored", st.channel, st.provider_id)
            return
        current = DeliveryStatus(row.status) if row.status in _KNOWN else None
        if advances(current, st.status):
            row.status = st.status
            row.error_code = st.error_code
            row.status_at = st.at or rt.clock()
            if st.outside_window and row.payload.get("template"):
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
            if row.kind == FORGET and row.status in FINAL:
                # An erasure's confirmation: delivered (or not), it keeps nothing of the person.
                for column, value in forgotten().items():
                    setattr(row, column, value)
    rt.bus.publish(*events)

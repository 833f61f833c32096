"""A contact opts out of a channel, or in again: the one place that says so.

`opt` writes all of it in the caller's transaction: the channel's `opted_out_at`, the consent
history (`bot.survey.consent.record`), the outbound webhook (`contact.opted_out` or
`contact.opted_in`) and the bus event. Its callers: the chat's STOP/START keywords, typed or
handled by the provider (`bot.inbound.answer`), the provider refusing a send because the
customer opted out with it (`scheduler.dispatch.record`), and the Delighted-compatible API's
unsubscribe (`bot.integrations.delighted.people`). What happens to the contact's invitations
differs per path and stays with the caller.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Connection, Table, update

from bot.events import ContactOptedOut, Event
from bot.storage.hooks import emit
from bot.storage.models import ContactChannel
from bot.survey import consent

CHANNELS = cast(Table, ContactChannel.__table__)
_cc = CHANNELS.c


def opt(
    conn: Connection,
    contact_id: int,
    channel: str,
    *,
    out: bool,
    method: str,
    source: str | None,
    now: datetime,
    events: list[Event],
) -> bool:
    """Opt the contact out of `channel` (`out`) or in again, reached by `method` (`consent.METHODS`)
    with `source` (the keyword, "delighted"…); whether the channel's state changed.

    The consent history records every report (it skips repeats itself); the channel keeps its
    first opt-out time, and the webhook and bus event announce only a change."""
    state = _cc.opted_out_at.is_(None) if out else _cc.opted_out_at.is_not(None)
    done = conn.execute(
        update(CHANNELS)
        .where(_cc.contact_id == contact_id, _cc.channel == channel, state)
        .values(opted_out_at=now if out else None)
    )
    consent.record(conn, contact_id, consent.Grant(channel, not out, source), method, now)
    if not done.rowcount:
        return False
    if out:
        events.append(ContactOptedOut(contact_id, channel))
    kind = "contact.opted_out" if out else "contact.opted_in"
    emit(conn, at=now, kind=kind, data={"channel": channel}, contact_id=contact_id)
    return True

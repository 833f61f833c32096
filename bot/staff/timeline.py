"""A case's whole story for the dashboard's case page: the customer, the answer, the purchase,
and one timeline, oldest first, of every message with the customer from the invitation on
(question, reminders, answers, staff replies, with delivery status) and every case event.

Entries carry kinds, never labels: the web layer names them in the reader's language."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.staff.cards import CaseView, load_view, mask
from bot.staff.cases import ago
from bot.staff.reply import staff_template
from bot.storage.models import CaseEvent, ContactChannel, Message
from bot.survey.rules import in_session_window
from channels import registry

# Events a message entry already shows (the reply, the customer's answer, the thread's copies).
AS_MESSAGES = frozenset({"staff_reply", "customer_reply", "thread_copy"})
MESSAGES_MAX = 500  # a case page shows at most this many messages (the newest)


@dataclass(frozen=True)
class Entry:
    """One line of the timeline: a message ("in"/"out") or a case event ("event")."""

    at: datetime
    side: str  # in | out | event
    kind: str  # the message's kind (question, reminder, reply, staff_reply, …) or the event's
    text: str | None = None
    who: str | None = None  # the staff member who acted or wrote
    status: str | None = None  # an outbound message's delivery status
    note: str | None = None  # an outcome's note
    template: bool = False  # an outbound message that went as the approved template


@dataclass(frozen=True)
class CaseFile:
    view: CaseView
    masked: str
    age: str
    entries: list[Entry]
    meta: list[tuple[str, str]]  # the purchase's metadata, as shown
    # Until when free text reaches the customer on a channel with a session window (None: no
    # window, or closed), whether it is closed, and whether a follow-up template would go.
    window_until: datetime | None = None
    window_closed: bool = False
    template: bool = False


def load(s: Session, case_id: int, now: datetime) -> CaseFile | None:
    view = load_view(s, case_id)
    if view is None:
        return None
    case, inv = view.case, view.invitation
    events = list(
        s.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id))
    )
    writers = {e.message_id: e.actor_name for e in events if e.kind == "staff_reply"}
    rows = s.scalars(
        select(Message)
        .where(Message.contact_id == case.contact_id, Message.created_at >= inv.created_at)
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(MESSAGES_MAX)
    )
    entries = [_message(m, writers.get(m.id)) for m in reversed(list(rows))]
    entries += [
        Entry(e.at, "event", e.kind, e.text, e.actor_name, note=e.note)
        for e in events
        if e.kind not in AS_MESSAGES
    ]
    entries.append(Entry(case.created_at, "event", "opened"))
    # Oldest first; at one instant the conversation before what staff did about it.
    entries.sort(key=lambda e: (e.at, e.side == "event"))
    meta = [(str(k), _shown(v)) for k, v in sorted(inv.meta.items())]
    channel = view.response.channel
    window = registry.capabilities(channel).session_window
    last = s.scalar(
        select(ContactChannel.last_inbound_at).where(
            ContactChannel.contact_id == case.contact_id, ContactChannel.channel == channel
        )
    )
    closed = window is not None and not in_session_window(last, window, now)
    until = last + window if window is not None and last is not None and not closed else None
    template = staff_template(view.survey.options, inv.language) is not None
    masked = mask(view.address, channel)
    return CaseFile(
        view, masked, ago(now - case.created_at), entries, meta, until, closed, template
    )


def _message(m: Message, writer: str | None) -> Entry:
    template = bool(m.payload.get("needs_template")) and bool(m.payload.get("template"))
    return Entry(
        m.created_at,
        m.direction,
        m.kind,
        m.text,
        writer,
        status=m.status if m.direction == "out" else None,
        template=template,
    )


def _shown(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return str(value)

"""The staff chat: cases worked from a group chat on the channel that declares `staff_chat`.

- The card's buttons act on the case through the transition table (`bot.staff.cases`).
- A staff member's *reply* to a card is relayed to the customer on the customer's channel
  through the one reply path (`bot.staff.reply`: the channel's rules, its session window); the
  customer's answers come back into the same thread.
- Only members of a staff chat (getChatMember, cached briefly in `Members`) or the allow-list
  act on cases; anything else is refused, in the chat, with the reason.

Everything lands on the case: `case_events` keeps who did what and every relayed message.
Customers never see staff names unless `STAFF_SHOW_NAMES` is on.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import suppress
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from bot.runtime import Runtime
from bot.staff.alerts import STAFF_CHANNEL, split_list, staff_chats, telegram_chat
from bot.staff.cards import CODES, cards_of, read_case_data, refresh
from bot.staff.cases import Actor, NotAllowed, apply, lock
from bot.staff.reply import Refused, reply_to_customer, template_note
from bot.storage.messages import queue_outbound
from bot.storage.models import Alert, Case, CaseEvent, CaseStatus, Contact, Message
from bot.survey.rules import in_session_window
from bot.survey.surveys import survey_options
from channels import registry
from channels.base import Inbound, Outbound
from channels.errors import SendError

log = logging.getLogger(__name__)

MEMBER_TTL = 60.0  # seconds a getChatMember answer is trusted
# https://core.telegram.org/bots/api#chatmember (the statuses of someone in the chat)
MEMBER_STATUSES = ("creator", "administrator", "member")

# Staff-side texts (the staff chat speaks one language: English).
NOT_STAFF_CHAT = "⛔ Cases can only be handled from a staff chat."
NOT_MEMBER = "⛔ Only members of the staff chat can act on cases."
NOT_VERIFIED = "⛔ Could not check your membership of the staff chat; try again in a minute."
BAD_BUTTON = "⛔ This button is not valid."

# Built once: this runs for every customer message outside a survey (the webhook's hot path).
_OPEN_CASE = (
    select(Case.id)
    .where(Case.contact_id == bindparam("contact"), Case.status != CaseStatus.RESOLVED)
    .order_by(Case.id.desc())
    .limit(1)
)


class Members:
    """Who is a member of which staff chat, as getChatMember last said (for MEMBER_TTL)."""

    def __init__(self, ttl: float = MEMBER_TTL) -> None:
        self.ttl = ttl
        self._known: dict[tuple[str, str], tuple[bool, float]] = {}
        self._lock = threading.Lock()

    def get(self, chat: str, user: str) -> bool | None:
        with self._lock:
            known = self._known.get((chat, user))
        return known[0] if known is not None and known[1] > time.monotonic() else None

    def put(self, chat: str, user: str, member: bool) -> None:
        with self._lock:
            self._known[(chat, user)] = (member, time.monotonic() + self.ttl)


def _say(m: Inbound, text: str) -> Outbound:
    """A message in the chat `m` came from, as a reply to what it answered (and acknowledging
    its button, if any)."""
    return Outbound(
        channel=m.channel,
        to=m.chat_id or m.sender,
        text=text,
        callback_id=m.callback_id,
        reply_to=m.reply_to,
    )


def _actor(m: Inbound) -> Actor:
    """The staff member who tapped or replied, as the case workflow and the audit name them."""
    return Actor(
        m.sender,
        m.sender_name or m.sender,
        audit=f"{m.channel}:{m.sender}",
        source=f"chat:{m.channel}",
    )


def _refused(case_id: int, m: Inbound, text: str, msg_id: int | None, now: datetime) -> CaseEvent:
    actor = m.sender_name or m.sender
    return CaseEvent(
        case_id=case_id,
        kind="refused",
        actor_id=m.sender,
        actor_name=actor,
        text=text,
        message_id=msg_id,
        at=now,
    )


def case_for_ref(s: Session, channel: str, ref: str) -> int | None:
    """The case a staff-chat message belongs to: a card, or a message relayed into its thread."""
    case_id = s.scalar(select(Alert.case_id).where(Alert.provider_id == ref))
    if case_id is not None:
        return case_id
    return s.scalar(
        select(CaseEvent.case_id)
        .join(Message, Message.id == CaseEvent.message_id)
        .where(Message.channel == channel, Message.direction == "out", Message.provider_id == ref)
    )


class StaffChat:
    """The hooks bootstrap wires into the Runtime: `check` before the inbound message's
    transaction (it may call getChatMember), `on_group` and `on_case_message` inside it."""

    def __init__(self, members: Members | None = None) -> None:
        self.members = members or Members()

    def may_act(self, rt: Runtime, channel: str, chat: str | None, user: str) -> str | None:
        """None when `user` may act on cases from `chat`; otherwise the refusal to show."""
        with rt.db.session() as s:  # read, then released before any getChatMember call
            chats = staff_chats(rt.settings, survey_options(s))
        if chat is None or chat not in chats:
            return NOT_STAFF_CHAT
        if user in split_list(rt.settings.staff_telegram_user_ids):
            return None
        member = self.members.get(chat, user)
        if member is None:
            # Only staff-chat channels answer getChatMember (not part of the Channel protocol).
            provider: Any = rt.channels.get(channel)
            if provider is None:
                return NOT_VERIFIED
            try:
                status: str = provider.chat_member_status(chat, user)
            except SendError as exc:
                log.warning("getChatMember in %s failed: %s", chat, type(exc).__name__)
                return NOT_VERIFIED
            member = status in MEMBER_STATUSES
            self.members.put(chat, user, member)
        return None if member else NOT_MEMBER

    def check(self, rt: Runtime, m: Inbound) -> str | None:
        """Before the transaction: may the sender of a tap or a reply in this chat act on cases?
        (None: yes, or nothing to act on; else the refusal `on_group` shows.)"""
        if not registry.capabilities(m.channel).staff_chat:
            return None
        if m.button is None and m.reply_to is None:
            return None  # group chatter: nothing to act on
        return self.may_act(rt, m.channel, m.chat_id, m.sender)

    def on_group(
        self, rt: Runtime, s: Session, m: Inbound, msg_id: int, now: datetime, refusal: str | None
    ) -> list[Outbound]:
        """A message or a button tap in a group chat (the staff side of a case); `refusal` is
        what `check` answered before the transaction."""
        if not registry.capabilities(m.channel).staff_chat:
            return []
        if m.button is not None:
            return self._tap(rt, s, m, now, refusal)
        if m.reply_to is None:
            return []  # group chatter: not for us
        case_id = case_for_ref(s, m.channel, m.reply_to)
        if case_id is None:
            return []
        return self._staff_reply(rt, s, m, msg_id, case_id, now, refusal)

    def _tap(
        self, rt: Runtime, s: Session, m: Inbound, now: datetime, refusal: str | None
    ) -> list[Outbound]:
        parsed = read_case_data(rt.settings.secret_key, m.button or "")
        if parsed is None:
            return [_say(m, BAD_BUTTON)]
        case_id, code = parsed
        case = lock(s, case_id)
        if case is None:
            return [_say(m, BAD_BUTTON)]
        if refusal is not None:
            s.add(_refused(case.id, m, f"tap {code} in chat {m.chat_id}", None, now))
            return [_say(m, refusal)]
        action, outcome = CODES[code]
        # A stale card (taken meanwhile, say) changes nothing: the refreshed card shows why.
        with suppress(NotAllowed):
            apply(s, case.id, action, _actor(m), now, outcome)
        s.flush()
        return refresh(s, rt.settings, case.id, now, tapped=m)

    def _staff_reply(
        self,
        rt: Runtime,
        s: Session,
        m: Inbound,
        msg_id: int,
        case_id: int,
        now: datetime,
        refusal: str | None,
    ) -> list[Outbound]:
        if refusal is not None:
            return [_say(m, refusal)]
        actor = _actor(m)
        try:
            sent = reply_to_customer(s, rt.settings, case_id, actor, m.text, now, msg_id)
        except LookupError:
            return []
        if isinstance(sent, Refused):
            return [_say(m, sent.reason)]
        rt.wake.set()  # the reply and the card edits are outbox rows
        note = template_note(sent)
        return [_say(m, note)] if note else []

    def on_case_message(
        self, rt: Runtime, s: Session, m: Inbound, contact_id: int, now: datetime
    ) -> list[Outbound] | None:
        """A customer with an unresolved case wrote outside a survey. Once staff have answered
        (from the chat or the dashboard), the message is the case's (a `customer_reply` event)
        and the conversation is theirs: no automatic reply. Before that the usual handling goes
        on (None). Either way, where the case has a card the message goes into its thread."""
        case_id = s.scalar(_OPEN_CASE, {"contact": contact_id})
        if case_id is None:
            return None
        talking = s.scalar(
            select(CaseEvent.id)
            .where(CaseEvent.case_id == case_id, CaseEvent.kind == "staff_reply")
            .limit(1)
        )
        found = cards_of(s, case_id)
        said = m.text.strip() or f"[{m.media_count or 1} attachment(s)]"
        if found:
            contact = s.get(Contact, contact_id)
            name = contact.name if contact and contact.name else "Customer"
            for i, alert in enumerate(found):
                chat = telegram_chat(alert.destination)
                assert chat is not None
                relay = Outbound(
                    channel=STAFF_CHANNEL,
                    to=chat,
                    text=f"💬 {name}: {said}",
                    reply_to=alert.provider_id,
                )
                row = queue_outbound(s, relay, contact_id=None, kind="case_relay", now=now)
                s.flush()
                s.add(
                    CaseEvent(
                        case_id=case_id,
                        kind="customer_reply" if i == 0 else "thread_copy",
                        text=said if i == 0 else None,
                        message_id=row.id,
                        at=now,
                    )
                )
            rt.wake.set()
        elif talking is not None:
            # No card to thread it under: the event points at the customer's own message.
            inbound = s.scalar(
                select(Message.id).where(
                    Message.channel == m.channel,
                    Message.direction == "in",
                    Message.provider_id == m.provider_id,
                )
            )
            s.add(
                CaseEvent(
                    case_id=case_id, kind="customer_reply", text=said, message_id=inbound, at=now
                )
            )
        return [] if talking is not None else None


def in_window(channel: str, last_inbound_at: datetime | None, now: datetime) -> bool:
    """May free-form text go to a customer on `channel` now? Not outside its session window."""
    window = registry.capabilities(channel).session_window
    return in_session_window(last_inbound_at, window, now)

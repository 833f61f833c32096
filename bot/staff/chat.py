"""The staff chat: cases worked from a group chat on the channel that declares `staff_chat`.

- The card's buttons act on the case through the transition table (`bot.staff.cases`).
- A staff member's *reply* to a card is relayed to the customer on the customer's channel (only
  inside the channel's session window, if it has one); the customer's answers come back into
  the same thread.
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
from bot.staff.cards import CODES, cards_of, load_view, read_case_data, refresh
from bot.staff.cases import Actor, NotAllowed, ago, apply, lock
from bot.storage.messages import queue_outbound
from bot.storage.models import Alert, Case, CaseEvent, CaseStatus, Contact, ContactChannel, Message
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
OUTSIDE_WINDOW = (
    "⚠️ Not sent: {channel} only allows replies within {window} of the customer's last message "
    "({ago}). Call them, or wait for them to write again."
)
# How the staff chat names a channel in its texts (the channel's name otherwise).
OPTED_OUT = "⚠️ Not sent: the customer opted out of {channel}."
RESOLVED = "⚠️ Not sent: case #{case} is resolved. Tap Reopen first."
NOT_TEXT = "⚠️ Only text can be relayed to the customer."
NOT_REACHABLE = "⚠️ Not sent: the customer has no {channel} address."

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
            apply(s, case.id, action, Actor(m.sender, m.sender_name or m.sender), now, outcome)
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
        case = lock(s, case_id)
        view = load_view(s, case_id)
        if case is None or view is None:
            return []
        channel = view.response.channel
        cc = s.scalar(
            select(ContactChannel).where(
                ContactChannel.contact_id == case.contact_id, ContactChannel.channel == channel
            )
        )
        problem = _problem(case, m, channel, cc, now)
        if problem is not None or cc is None:
            s.add(_refused(case.id, m, m.text, msg_id, now))
            return [_say(m, problem or NOT_TEXT)]
        text = m.text.strip()
        if rt.settings.staff_show_names and m.sender_name:
            text = f"{text}\n— {m.sender_name.split()[0]}"
        row = queue_outbound(
            s,
            Outbound(channel=channel, to=cc.address, text=text),
            contact_id=case.contact_id,
            invitation_id=view.invitation.id,
            kind="staff_reply",
            now=now,
        )
        s.flush()
        actor = Actor(m.sender, m.sender_name or m.sender)
        s.add(
            CaseEvent(
                case_id=case.id,
                kind="staff_reply",
                actor_id=actor.id,
                actor_name=actor.name,
                text=m.text,
                message_id=row.id,
                at=now,
            )
        )
        replies: list[Outbound] = []
        if case.status == CaseStatus.OPEN:
            # Answering the customer is taking the case.
            apply(s, case.id, "take", actor, now)
            s.flush()
            replies = refresh(s, rt.settings, case.id, now)
        rt.wake.set()
        return replies

    def on_case_message(
        self, rt: Runtime, s: Session, m: Inbound, contact_id: int, now: datetime
    ) -> list[Outbound] | None:
        """A customer with an unresolved, announced case wrote outside a survey: the message goes
        into the case's thread in the staff chat. Once staff have answered, the conversation is
        theirs (no automatic reply); before that the usual handling goes on (None)."""
        case_id = s.scalar(_OPEN_CASE, {"contact": contact_id})
        if case_id is None:
            return None
        found = cards_of(s, case_id)
        if not found:
            return None
        contact = s.get(Contact, contact_id)
        name = contact.name if contact and contact.name else "Customer"
        said = m.text.strip() or f"[{m.media_count or 1} attachment(s)]"
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
        talking = s.scalar(
            select(CaseEvent.id)
            .where(CaseEvent.case_id == case_id, CaseEvent.kind == "staff_reply")
            .limit(1)
        )
        return [] if talking is not None else None


def _problem(
    case: Case, m: Inbound, channel: str, cc: ContactChannel | None, now: datetime
) -> str | None:
    """Why a staff reply cannot be relayed to the customer (None: it can)."""
    if case.status == CaseStatus.RESOLVED:
        return RESOLVED.format(case=case.id)
    if not m.text.strip():
        return NOT_TEXT
    if cc is None:
        return NOT_REACHABLE.format(channel=channel)
    if cc.opted_out_at is not None:
        return OPTED_OUT.format(channel=channel)
    window = registry.capabilities(channel).session_window
    if window is not None and not in_window(channel, cc.last_inbound_at, now):
        last = f"theirs was {ago(now - cc.last_inbound_at)} ago" if cc.last_inbound_at else "none"
        named = registry.capabilities(channel).label or channel
        return OUTSIDE_WINDOW.format(channel=named, window=ago(window), ago=last)
    return None


def in_window(channel: str, last_inbound_at: datetime | None, now: datetime) -> bool:
    """May free-form text go to a customer on `channel` now? Not outside its session window."""
    window = registry.capabilities(channel).session_window
    return in_session_window(last_inbound_at, window, now)

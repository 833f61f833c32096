"""Closing the loop: staff alerts, and cases handled from the Telegram staff chat.

- A completed response that the survey's rules flag (detractors by default) gets alert rows, one
  per destination (`bot.staff.alerts`); the scheduler sends them (`scheduler.alerts`).
- In the staff group, the Telegram card's buttons act on the case: **Take it**, **Resolved**
  (then an optional outcome), **Reopen**. Button data is signed like the score buttons:
  "c:<case id>:<action>:<mac>".
- A staff member's *reply* to a case's card is relayed to the customer on the customer's channel
  (WhatsApp only inside its 24 h window); the customer's answers come back into the same thread.
- Only members of a staff chat (checked with getChatMember, cached briefly) or the allow-list
  act on cases; anything else is refused, in the chat, with the reason.

Everything lands on the case: `case_events` keeps who did what and every relayed message.
Customers never see staff names unless `STAFF_SHOW_NAMES` is on.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from bot.config import Settings
from bot.events import DetractorResponded, Event, ResponseCompleted
from bot.runtime import Runtime
from bot.staff.alerts import (
    TELEGRAM,
    destinations,
    enqueue,
    rules,
    split_list,
    staff_chats,
    telegram_chat,
)
from bot.storage.models import (
    Alert,
    Case,
    CaseEvent,
    CaseStatus,
    Contact,
    ContactChannel,
    Invitation,
    Message,
    Response,
    Survey,
)
from channels.base import Button, Inbound, Outbound
from channels.errors import SendError
from scoring import DEFAULT_TAXONOMY

log = logging.getLogger(__name__)

WINDOW = timedelta(hours=24)  # WhatsApp's customer-service window
MEMBER_TTL = 60.0  # seconds a getChatMember answer is trusted
OUTCOMES = {
    "1": ("called_back", "📞 Called back"),
    "2": ("refunded", "💸 Refunded"),
    "3": ("replaced", "📦 Replaced"),
    "4": ("no_action", "No action"),
}
OUTCOME_LABELS = {key: label for key, label in OUTCOMES.values()}
CATEGORY_MARK = {"detractor": "🔴", "passive": "🟡", "promoter": "🟢"}
HEADERS = {
    "alert": "",
    "escalate_take": "⏰ Not taken after {take} min",
    "escalate_resolve": "⏰ Not resolved after {resolve} h",
}

# Staff-side texts (the staff chat speaks one language: English).
NOT_STAFF_CHAT = "⛔ Cases can only be handled from a staff chat."
NOT_MEMBER = "⛔ Only members of the staff chat can act on cases."
NOT_VERIFIED = "⛔ Could not check your membership of the staff chat; try again in a minute."
BAD_BUTTON = "⛔ This button is not valid."
OUTSIDE_WINDOW = (
    "⚠️ Not sent: WhatsApp only allows replies within 24 h of the customer's last message "
    "({ago}). Call them, or wait for them to write again."
)
OPTED_OUT = "⚠️ Not sent: the customer opted out of {channel}."
RESOLVED = "⚠️ Not sent: case #{case} is resolved. Tap Reopen first."
NOT_TEXT = "⚠️ Only text can be relayed to the customer."
NOT_REACHABLE = "⚠️ Not sent: the customer has no {channel} address."

PROMOTER_TEXTS = {
    "es": "¡Gracias! Si tienes un minuto, tu reseña nos ayudaría mucho: {link}",
    "en": "Thank you! If you have a minute, a review would help us a lot: {link}",
    "pt": "Obrigado! Se tiver um minuto, sua avaliação nos ajudaria muito: {link}",
}


# --- signed button data --------------------------------------------------------------------
def _mac(secret: str, body: str) -> str:
    digest = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:10]


def case_data(secret: str, case_id: int, action: str) -> str:
    """callback_data for a case button: "c:<case>:<action>:<mac>" (well under 64 bytes)."""
    body = f"c:{case_id}:{action}"
    return f"{body}:{_mac(secret, body)}"


def read_case_data(secret: str, data: str) -> tuple[int, str] | None:
    parts = data.split(":")
    if len(parts) != 4 or parts[0] != "c" or not parts[1].isdigit():
        return None
    if parts[2] not in ("t", "r", "o", *OUTCOMES):
        return None
    if not hmac.compare_digest(_mac(secret, ":".join(parts[:3])), parts[3]):
        return None
    return int(parts[1]), parts[2]


# --- the card ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class CaseView:
    case: Case
    response: Response
    invitation: Invitation
    contact: Contact
    survey: Survey
    address: str | None


def load_view(s: Session, case_id: int) -> CaseView | None:
    case = s.get(Case, case_id)
    if case is None:
        return None
    response = s.get(Response, case.response_id)
    assert response is not None
    invitation = response.invitation
    contact = s.get(Contact, case.contact_id)
    assert contact is not None
    address = s.scalar(
        select(ContactChannel.address).where(
            ContactChannel.contact_id == contact.id, ContactChannel.channel == response.channel
        )
    )
    return CaseView(case, response, invitation, contact, invitation.survey, address)


def mask(address: str | None) -> str:
    """Enough of an address to tell customers apart, not enough to contact them."""
    if not address:
        return "—"
    bare = address.removeprefix("whatsapp:")
    if bare.startswith("+") and len(bare) > 7:
        return f"{bare[:3]}•••{bare[-4:]}"
    return f"•••{bare[-4:]}" if len(bare) > 4 else "•••"


def ago(delta: timedelta) -> str:
    minutes = max(int(delta.total_seconds() // 60), 0)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def _status_line(case: Case, now: datetime) -> str:
    if case.status == CaseStatus.RESOLVED and case.resolved_at is not None:
        outcome = (
            f" · {OUTCOME_LABELS.get(case.outcome or '', case.outcome)}" if case.outcome else ""
        )
        took = ago(case.resolved_at - case.created_at)
        return f"✅ Resolved by {case.assignee or '—'}{outcome} · {took} after the response"
    if case.status == CaseStatus.TAKEN and case.taken_at is not None:
        return f"👤 Taken by {case.assignee} · {ago(case.taken_at - case.created_at)} to take"
    return "⏳ Open: nobody has taken it yet"


def card_text(view: CaseView, now: datetime, settings: Settings, kind: str = "alert") -> str:
    r, inv, case = view.response, view.invitation, view.case
    header = HEADERS.get(kind, "").format(
        take=settings.staff_take_minutes, resolve=settings.staff_resolve_hours
    )
    lines = [header] if header else []
    mark = CATEGORY_MARK.get(r.category, "•")
    lines.append(f"{mark} {r.category.capitalize()} {r.score}/10 · case #{case.id}")
    lines.append(f"“{r.comment}”" if r.comment else "(no comment)")
    if r.themes:
        lines.append("Themes: " + ", ".join(DEFAULT_TAXONOMY.label(t) for t in r.themes))
    lines.append(f"👤 {view.contact.name or 'Customer'} · {mask(view.address)} · {r.channel}")
    order = [f"Order {inv.order_id}"] if inv.order_id else []
    order += [f"{k}: {v}" for k, v in inv.meta.items() if isinstance(v, str | int | float)]
    if order:
        lines.append("🧾 " + " · ".join(order))
    lines.append(f"🛒 Bought {ago(now - inv.occurred_at)} ago · survey {view.survey.name}")
    lines.append(_status_line(case, now))
    return "\n".join(lines)


def card_buttons(secret: str, case: Case) -> tuple[tuple[Button, ...], ...]:
    def b(label: str, action: str) -> Button:
        return Button(label, case_data(secret, case.id, action))

    if case.status == CaseStatus.RESOLVED:
        outcomes = tuple(b(label, key) for key, (_, label) in OUTCOMES.items())
        return (outcomes[:2], outcomes[2:], (b("↩️ Reopen", "o"),))
    if case.status == CaseStatus.TAKEN:
        return ((b("✅ Resolved", "r"),),)
    return ((b("🙋 Take it", "t"), b("✅ Resolved", "r")),)


def render_alert(
    s: Session, settings: Settings, alert: Alert, now: datetime
) -> tuple[str, str, tuple[tuple[Button, ...], ...]] | None:
    """(title, text, buttons) of an alert row as it should be sent now; None if its case is gone."""
    if alert.case_id is None:
        return str(alert.payload.get("title", "NPS digest")), str(alert.payload["text"]), ()
    view = load_view(s, alert.case_id)
    if view is None:
        return None
    r = view.response
    title = f"NPS {r.category} {r.score}/10 · case #{view.case.id}"
    buttons = card_buttons(settings.secret_key, view.case)
    return title, card_text(view, now, settings, alert.kind), buttons


# --- who may act ----------------------------------------------------------------------------
_members: dict[tuple[str, str], tuple[bool, float]] = {}
_members_lock = threading.Lock()


def _member_status(channel: Any, chat: str, user: str) -> bool:
    """Is `user` a member of `chat`? (Bot API getChatMember; the bot should be an admin there.)"""
    status: str = channel.chat_member_status(chat, user)
    return status in ("creator", "administrator", "member")


def may_act(rt: Runtime, chat: str | None, user: str) -> str | None:
    """None when `user` may act on cases from `chat`; otherwise the refusal to show."""
    chats = staff_chats(rt.settings, [d.options for d in rt.surveys])
    if chat is None or chat not in chats:
        return NOT_STAFF_CHAT
    if user in split_list(rt.settings.staff_telegram_user_ids):
        return None
    key = (chat, user)
    with _members_lock:
        known = _members.get(key)
    if known is not None and known[1] > time.monotonic():
        return None if known[0] else NOT_MEMBER
    channel = rt.channels.get("telegram")
    if channel is None:
        return NOT_VERIFIED
    try:
        member = _member_status(channel, chat, user)
    except SendError as exc:
        log.warning("getChatMember in %s failed: %s", chat, type(exc).__name__)
        return NOT_VERIFIED
    with _members_lock:
        _members[key] = (member, time.monotonic() + MEMBER_TTL)
    return None if member else NOT_MEMBER


# --- the staff group ------------------------------------------------------------------------
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


def case_for_ref(s: Session, ref: str) -> tuple[int, Alert | None] | None:
    """The case a staff-chat message belongs to: a card, or a message relayed into its thread."""
    alert = s.scalar(select(Alert).where(Alert.provider_id == ref))
    if alert is not None and alert.case_id is not None:
        return alert.case_id, alert
    case_id = s.scalar(
        select(CaseEvent.case_id)
        .join(Message, Message.id == CaseEvent.message_id)
        .where(
            Message.channel == "telegram", Message.direction == "out", Message.provider_id == ref
        )
    )
    return (case_id, None) if case_id is not None else None


def _cards(s: Session, case_id: int) -> list[Alert]:
    """The case's Telegram cards already in a chat."""
    return list(
        s.scalars(
            select(Alert)
            .where(
                Alert.case_id == case_id,
                Alert.destination.startswith(TELEGRAM),
                Alert.provider_id.is_not(None),
            )
            .order_by(Alert.id)
        )
    )


def _lock_case(rt: Runtime, s: Session, case_id: int) -> Case | None:
    stmt = select(Case).where(Case.id == case_id)
    if rt.db.postgres:
        stmt = stmt.with_for_update()
    return s.scalar(stmt)


def on_group(rt: Runtime, s: Session, m: Inbound, msg_id: int, now: datetime) -> list[Outbound]:
    """A message or a button tap in a group chat (the staff side of a case)."""
    if m.channel != "telegram":
        return []
    if m.button is not None:
        return _tap(rt, s, m, now)
    if m.reply_to is None:
        return []  # group chatter: not for us
    found = case_for_ref(s, m.reply_to)
    if found is None:
        return []
    return _staff_reply(rt, s, m, msg_id, found[0], now)


def _tap(rt: Runtime, s: Session, m: Inbound, now: datetime) -> list[Outbound]:
    parsed = read_case_data(rt.settings.secret_key, m.button or "")
    if parsed is None:
        return [_say(m, BAD_BUTTON)]
    case_id, action = parsed
    refusal = may_act(rt, m.chat_id, m.sender)
    case = _lock_case(rt, s, case_id)
    if case is None:
        return [_say(m, BAD_BUTTON)]
    actor = m.sender_name or m.sender
    if refusal is not None:
        s.add(
            CaseEvent(
                case_id=case.id,
                kind="refused",
                actor_id=m.sender,
                actor_name=actor,
                text=f"tap {action} in chat {m.chat_id}",
                at=now,
            )
        )
        return [_say(m, refusal)]
    kind = _apply(case, action, m.sender, actor, now)
    if kind is not None:
        s.add(
            CaseEvent(
                case_id=case.id,
                kind=kind,
                actor_id=m.sender,
                actor_name=actor,
                at=now,
                text=case.outcome if kind == "outcome" else None,
            )
        )
    s.flush()
    return _refresh_cards(rt, s, case.id, now, tapped=m)


def _apply(case: Case, action: str, user: str, name: str, now: datetime) -> str | None:
    """Apply a button to the case; the event kind to record (None: nothing changed)."""
    if action == "t":
        if case.status != CaseStatus.OPEN:
            return None  # already taken (the card shows by whom) or resolved
        case.status, case.assignee, case.assignee_id, case.taken_at = (
            CaseStatus.TAKEN,
            name,
            user,
            now,
        )
        return "taken"
    if action == "r":
        if case.status == CaseStatus.RESOLVED:
            return None
        if case.taken_at is None:
            case.taken_at, case.assignee, case.assignee_id = now, name, user
        case.status, case.resolved_at, case.outcome = CaseStatus.RESOLVED, now, None
        return "resolved"
    if action == "o":
        if case.status != CaseStatus.RESOLVED:
            return None
        case.status = CaseStatus.TAKEN if case.assignee else CaseStatus.OPEN
        case.resolved_at, case.outcome, case.reopened_at = None, None, now
        return "reopened"
    if action in OUTCOMES and case.status == CaseStatus.RESOLVED:
        case.outcome = OUTCOMES[action][0]
        return "outcome"
    return None


def _refresh_cards(
    rt: Runtime, s: Session, case_id: int, now: datetime, tapped: Inbound | None = None
) -> list[Outbound]:
    """Edits that make every card of the case show its state (the tapped one acknowledges)."""
    view = load_view(s, case_id)
    if view is None:
        return []
    buttons = card_buttons(rt.settings.secret_key, view.case)
    out: list[Outbound] = []
    seen = False
    for alert in _cards(s, case_id):
        chat = telegram_chat(alert.destination)
        assert chat is not None and alert.provider_id is not None
        mine = tapped is not None and alert.provider_id == tapped.reply_to
        seen = seen or mine
        out.append(
            Outbound(
                channel="telegram",
                to=chat,
                text=card_text(view, now, rt.settings, alert.kind),
                buttons=buttons,
                edit_of=alert.provider_id,
                callback_id=tapped.callback_id if mine and tapped else None,
            )
        )
    if tapped is not None and not seen:
        out.insert(
            0,
            Outbound(
                channel="telegram",
                to=tapped.chat_id or tapped.sender,
                text="",
                callback_id=tapped.callback_id,
            ),
        )
    # The acknowledged tap first: the client's spinner stops soonest.
    out.sort(key=lambda o: o.callback_id is None)
    return out


def _staff_reply(
    rt: Runtime, s: Session, m: Inbound, msg_id: int, case_id: int, now: datetime
) -> list[Outbound]:
    from bot.storage.messages import queue_outbound

    refusal = may_act(rt, m.chat_id, m.sender)
    if refusal is not None:
        return [_say(m, refusal)]
    case = _lock_case(rt, s, case_id)
    view = load_view(s, case_id)
    if case is None or view is None:
        return []
    actor = m.sender_name or m.sender
    channel = view.response.channel
    cc = s.scalar(
        select(ContactChannel).where(
            ContactChannel.contact_id == case.contact_id, ContactChannel.channel == channel
        )
    )
    problem = None
    if case.status == CaseStatus.RESOLVED:
        problem = RESOLVED.format(case=case.id)
    elif not m.text.strip():
        problem = NOT_TEXT
    elif cc is None:
        problem = NOT_REACHABLE.format(channel=channel)
    elif cc.opted_out_at is not None:
        problem = OPTED_OUT.format(channel=channel)
    elif channel == "whatsapp" and (
        cc.last_inbound_at is None or now - cc.last_inbound_at >= WINDOW
    ):
        last = f"theirs was {ago(now - cc.last_inbound_at)} ago" if cc.last_inbound_at else "none"
        problem = OUTSIDE_WINDOW.format(ago=last)
    if problem is not None or cc is None:
        s.add(
            CaseEvent(
                case_id=case.id,
                kind="refused",
                actor_id=m.sender,
                actor_name=actor,
                text=m.text,
                message_id=msg_id,
                at=now,
            )
        )
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
    s.add(
        CaseEvent(
            case_id=case.id,
            kind="staff_reply",
            actor_id=m.sender,
            actor_name=actor,
            text=m.text,
            message_id=row.id,
            at=now,
        )
    )
    replies: list[Outbound] = []
    if case.status == CaseStatus.OPEN:
        # Answering the customer is taking the case.
        case.status, case.assignee, case.assignee_id, case.taken_at = (
            CaseStatus.TAKEN,
            actor,
            m.sender,
            now,
        )
        s.add(CaseEvent(case_id=case.id, kind="taken", actor_id=m.sender, actor_name=actor, at=now))
        s.flush()
        replies = _refresh_cards(rt, s, case.id, now)
    rt.wake.set()
    return replies


# --- the customer's side --------------------------------------------------------------------
# Built once: this runs for every customer message outside a survey (the webhook's hot path).
_OPEN_CASE = (
    select(Case.id)
    .where(Case.contact_id == bindparam("contact"), Case.status != CaseStatus.RESOLVED)
    .order_by(Case.id.desc())
    .limit(1)
)


def on_case_message(
    rt: Runtime, s: Session, m: Inbound, contact_id: int, now: datetime
) -> list[Outbound] | None:
    """A customer with an unresolved, announced case wrote outside a survey: the message goes
    into the case's thread in the staff chat. Once staff have answered, the conversation is
    theirs (no automatic reply); before that the usual handling goes on (None)."""
    from bot.storage.messages import queue_outbound

    case_id = s.scalar(_OPEN_CASE, {"contact": contact_id})
    if case_id is None:
        return None
    cards = _cards(s, case_id)
    if not cards:
        return None
    contact = s.get(Contact, contact_id)
    name = contact.name if contact and contact.name else "Customer"
    said = m.text.strip() or f"[{m.media_count or 1} attachment(s)]"
    for i, alert in enumerate(cards):
        chat = telegram_chat(alert.destination)
        assert chat is not None
        row = queue_outbound(
            s,
            Outbound(
                channel="telegram", to=chat, text=f"💬 {name}: {said}", reply_to=alert.provider_id
            ),
            contact_id=None,
            kind="case_relay",
            now=now,
        )
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


# --- events: alerts and promoter follow-ups -------------------------------------------------
def _alert_case(rt: Runtime, s: Session, case: Case, response: Response, now: datetime) -> int:
    inv = response.invitation
    dests = destinations(rt.settings, inv.survey.options, inv.meta)
    if not dests:
        return 0
    added = enqueue(s, case_id=case.id, destinations=dests, kind="alert", now=now)
    if added:
        s.add(CaseEvent(case_id=case.id, kind="queued", text=f"{added} destination(s)", at=now))
    return added


def on_detractor(rt: Runtime, event: Event) -> None:
    assert isinstance(event, DetractorResponded)
    now = rt.clock()
    with rt.db.session_for_update() as s:
        case = s.get(Case, event.case_id)
        response = s.get(Response, event.response_id)
        if case is None or response is None:
            return
        if not rules(response.invitation.survey.options).alerts("detractor", response.themes):
            return
        added = _alert_case(rt, s, case, response, now)
    if added:
        rt.wake.set()


def on_completed(rt: Runtime, event: Event) -> None:
    assert isinstance(event, ResponseCompleted)
    now = rt.clock()
    added = 0
    with rt.db.session_for_update() as s:
        response = s.get(Response, event.response_id)
        if response is None:
            return
        survey = response.invitation.survey
        if event.category != "detractor" and rules(survey.options).alerts(
            response.category, response.themes
        ):
            # Passives or a watched theme: a case like a detractor's (DetractorResponded covers
            # detractors).
            case = s.scalar(select(Case).where(Case.response_id == response.id))
            if case is None:
                case = Case(response_id=response.id, contact_id=response.contact_id, created_at=now)
                s.add(case)
                s.flush()
            added = _alert_case(rt, s, case, response, now)
        if response.category == "promoter":
            added += promoter_follow_up(rt, s, response, now)
    if added:
        rt.wake.set()


def promoter_follow_up(rt: Runtime, s: Session, response: Response, now: datetime) -> int:
    """The survey's review/referral link for the response's language, once, to promoters only."""
    from bot.storage.messages import queue_outbound

    inv = response.invitation
    if response.category != "promoter":
        return 0
    links = inv.survey.options.get("promoter_links", {})
    link = links.get(inv.language) or links.get("default")
    if not link:
        return 0
    already = s.scalar(
        select(Message.id).where(
            Message.invitation_id == inv.id,
            Message.kind == "promoter_link",
            Message.direction == "out",
        )
    )
    cc = s.scalar(
        select(ContactChannel).where(
            ContactChannel.contact_id == response.contact_id,
            ContactChannel.channel == response.channel,
        )
    )
    if already is not None or cc is None or cc.opted_out_at is not None:
        return 0
    if response.channel == "whatsapp" and (
        cc.last_inbound_at is None or now - cc.last_inbound_at >= WINDOW
    ):
        return 0
    texts = inv.survey.options.get("promoter_texts", {})
    template = texts.get(inv.language) or PROMOTER_TEXTS.get(inv.language, PROMOTER_TEXTS["en"])
    queue_outbound(
        s,
        Outbound(channel=response.channel, to=cc.address, text=template.format(link=link)),
        contact_id=response.contact_id,
        invitation_id=inv.id,
        kind="promoter_link",
        now=now,
    )
    return 1


def list_open_cases(s: Session, now: datetime) -> list[str]:
    """`npsbot cases`: one line per unresolved case, oldest first."""
    rows = s.execute(
        select(Case, Response.score, Response.channel, Contact.name)
        .join(Response, Response.id == Case.response_id)
        .join(Contact, Contact.id == Case.contact_id)
        .where(Case.status != CaseStatus.RESOLVED)
        .order_by(Case.created_at, Case.id)
    ).all()
    return [
        f"#{case.id:<5} {case.status:<6} {ago(now - case.created_at):>10}  {score:>2}/10  "
        f"{channel:<9} {name or '—':<20} {case.assignee or 'nobody'}"
        for case, score, channel, name in rows
    ]

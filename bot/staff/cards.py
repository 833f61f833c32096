"""A case's card in the staff chat: its text, its buttons (signed like the score buttons:
"c:<case id>:<code>:<mac>"), the alert it rides on, and the edits that bring every card of a
case up to date after a transition."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.config import Settings
from bot.staff.alerts import STAFF_CHANNEL, TELEGRAM, telegram_chat
from bot.staff.cases import OUTCOMES, QUICK_OUTCOMES, ago
from bot.storage.messages import queue_outbound
from bot.storage.models import (
    Alert,
    Case,
    CaseEvent,
    CaseStatus,
    Contact,
    ContactChannel,
    Invitation,
    Response,
    Survey,
)
from channels import registry
from channels.base import Button, Inbound, Outbound
from scoring import DEFAULT_TAXONOMY

Buttons = tuple[tuple[Button, ...], ...]  # rows of buttons under a card
CATEGORY_MARK = {"detractor": "🔴", "passive": "🟡", "promoter": "🟢"}
HEADERS = {
    "alert": "",
    "escalate_take": "⏰ Not taken after {take} min",
    "escalate_resolve": "⏰ Not resolved after {resolve} h",
}
# A button's code in its signed data → (action, outcome); short: callback data fits in 64 bytes.
CODES: dict[str, tuple[str, str | None]] = {
    "t": ("take", None),
    "r": ("resolve", None),
    "o": ("reopen", None),
    # "Other" needs a note a tap cannot carry: the dashboard records it.
    **{str(i): ("outcome", name) for i, name in enumerate(QUICK_OUTCOMES, start=1)},
}


# --- signed button data --------------------------------------------------------------------
def _mac(secret: str, body: str) -> str:
    digest = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:10]


def case_data(secret: str, case_id: int, code: str) -> str:
    """callback_data for a case button: "c:<case>:<code>:<mac>" (well under 64 bytes)."""
    body = f"c:{case_id}:{code}"
    return f"{body}:{_mac(secret, body)}"


def read_case_data(secret: str, data: str) -> tuple[int, str] | None:
    """(case id, code) of genuine button data; None for anything else."""
    parts = data.split(":")
    if len(parts) != 4 or parts[0] != "c" or not parts[1].isdigit() or parts[2] not in CODES:
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
    replied_by: str | None = None  # who last answered the customer (a staff_reply event)


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
    replied_by = s.scalar(
        select(CaseEvent.actor_name)
        .where(CaseEvent.case_id == case_id, CaseEvent.kind == "staff_reply")
        .order_by(CaseEvent.id.desc())
        .limit(1)
    )
    return CaseView(case, response, invitation, contact, invitation.survey, address, replied_by)


def mask(address: str | None, channel: str = "") -> str:
    """Enough of an address to tell customers apart, not enough to contact them."""
    if not address:
        return "—"
    bare = address.removeprefix(registry.capabilities(channel).address_prefix)
    if bare.startswith("+") and len(bare) > 7:
        return f"{bare[:3]}•••{bare[-4:]}"
    return f"•••{bare[-4:]}" if len(bare) > 4 else "•••"


def _status_line(case: Case) -> str:
    if case.status == CaseStatus.RESOLVED and case.resolved_at is not None:
        outcome = f" · {OUTCOMES.get(case.outcome, case.outcome)}" if case.outcome else ""
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
    customer = view.contact.name or "Customer"
    lines.append(f"👤 {customer} · {mask(view.address, r.channel)} · {r.channel}")
    order = [f"Order {inv.order_id}"] if inv.order_id else []
    order += [f"{k}: {v}" for k, v in inv.meta.items() if isinstance(v, str | int | float)]
    if order:
        lines.append("🧾 " + " · ".join(order))
    lines.append(f"🛒 Bought {ago(now - inv.occurred_at)} ago · survey {view.survey.name}")
    if view.replied_by:
        lines.append(f"💬 Answered by {view.replied_by}")
    lines.append(_status_line(case))
    return "\n".join(lines)


def card_buttons(secret: str, case: Case) -> Buttons:
    def b(label: str, code: str) -> Button:
        return Button(label, case_data(secret, case.id, code))

    if case.status == CaseStatus.RESOLVED:
        outcomes = tuple(
            b(OUTCOMES[name], code) for code, (action, name) in CODES.items() if name is not None
        )
        return (outcomes[:2], outcomes[2:], (b("↩️ Reopen", "o"),))
    if case.status == CaseStatus.TAKEN:
        return ((b("✅ Resolved", "r"),),)
    return ((b("🙋 Take it", "t"), b("✅ Resolved", "r")),)


@dataclass(frozen=True)
class Card:
    """What a case's card shows: the staff chat's message, and the sandbox's pretend one."""

    text: str
    buttons: Buttons


def card(s: Session, settings: Settings, case_id: int, now: datetime) -> Card | None:
    """The case's card as the staff chat's first alert shows it now; None if there is no case."""
    view = load_view(s, case_id)
    if view is None:
        return None
    return Card(card_text(view, now, settings), card_buttons(settings.secret_key, view.case))


def render_alert(
    s: Session, settings: Settings, alert: Alert, now: datetime
) -> tuple[str, str, Buttons] | None:
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


# --- keeping the cards current ----------------------------------------------------------------
def cards_of(s: Session, case_id: int) -> list[Alert]:
    """The case's cards already in a staff chat."""
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


def refresh(
    s: Session, settings: Settings, case_id: int, now: datetime, tapped: Inbound | None = None
) -> list[Outbound]:
    """Edits that make every card of the case show its state (the tapped one acknowledges)."""
    view = load_view(s, case_id)
    if view is None:
        return []
    buttons = card_buttons(settings.secret_key, view.case)
    out: list[Outbound] = []
    seen = False
    for alert in cards_of(s, case_id):
        chat = telegram_chat(alert.destination)
        assert chat is not None and alert.provider_id is not None
        mine = tapped is not None and alert.provider_id == tapped.reply_to
        seen = seen or mine
        out.append(
            Outbound(
                channel=STAFF_CHANNEL,
                to=chat,
                text=card_text(view, now, settings, alert.kind),
                buttons=buttons,
                edit_of=alert.provider_id,
                callback_id=tapped.callback_id if mine and tapped else None,
            )
        )
    if tapped is not None and not seen:
        out.insert(
            0,
            Outbound(
                channel=tapped.channel,
                to=tapped.chat_id or tapped.sender,
                text="",
                callback_id=tapped.callback_id,
            ),
        )
    # The acknowledged tap first: the client's spinner stops soonest.
    out.sort(key=lambda o: o.callback_id is None)
    return out


def queue_refresh(s: Session, settings: Settings, case_id: int, now: datetime) -> int:
    """The card edits of `refresh` as outbox rows (for changes made outside the staff chat: the
    dispatcher sends them after the commit). Returns the rows queued."""
    edits = refresh(s, settings, case_id, now)
    for edit in edits:
        queue_outbound(s, edit, contact_id=None, kind="case_card", now=now)
    return len(edits)

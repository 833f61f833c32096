"""One way for staff to answer a customer: the Telegram relay and the dashboard both call
`reply_to_customer`.

Inside the caller's `session_for_update` transaction it locks the case, applies the channel's
rules (an unresolved case, text, an address not opted out, the session window), queues the
outbound row, records the `staff_reply` event, takes an open case and queues the card edits.
Outside the session window (WhatsApp: 24 h after the customer's last message) a survey's approved
follow-up template goes instead, when it has one (`[survey.staff_templates.<lang>]`, like
`whatsapp_templates`); without one the reply is refused with the reason. The caller wakes the
outbox after the commit (`rt.wake.set()` or `OutboxQueued`): no provider call in here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.config import Settings
from bot.staff.cards import load_view, queue_refresh
from bot.staff.cases import Actor, ago, apply, lock
from bot.storage.audit import record
from bot.storage.messages import queue_outbound
from bot.storage.models import CaseEvent, CaseStatus, ContactChannel, Message
from bot.survey.rules import in_session_window
from channels import registry
from channels.base import Outbound, Template

# Staff-side texts (the staff chat speaks English; the dashboard translates by `Refused.code`).
OUTSIDE_WINDOW = (
    "⚠️ Not sent: {channel} only allows replies within {window} of the customer's last message "
    "({ago}). Call them, or wait for them to write again."
)
OPTED_OUT = "⚠️ Not sent: the customer opted out of {channel}."
RESOLVED = "⚠️ Not sent: case #{case} is resolved. Tap Reopen first."
NOT_TEXT = "⚠️ Only text can be relayed to the customer."
NOT_REACHABLE = "⚠️ Not sent: the customer has no {channel} address."
TEMPLATE_SENT = (
    "📨 Outside {channel}'s {window} window: the survey's approved follow-up template went "
    "instead of your text. Write again once the customer answers."
)
TEMPLATE_KIND = "staff_template"  # the Message kind of a follow-up sent as the template


@dataclass(frozen=True)
class Refused:
    """Why the reply did not go; `reason` is shown to staff as is (English, the staff chat's
    language); `code` and `params` let the dashboard say it in the user's language."""

    reason: str
    code: str = ""
    params: Mapping[str, str] = field(default_factory=dict)


def staff_template(options: Mapping[str, Any], language: str) -> Mapping[str, Any] | None:
    """The survey's approved follow-up template for `language` (`staff_templates`), if any."""
    templates = options.get("staff_templates")
    if not isinstance(templates, Mapping):
        return None
    tpl = templates.get(language) or templates.get("default")
    return tpl if isinstance(tpl, Mapping) and tpl.get("sid") else None


def refusal(
    status: str,
    case_id: int,
    text: str,
    channel: str,
    cc: ContactChannel | None,
    now: datetime,
    template: bool,
) -> Refused | None:
    """Why a staff reply cannot go to the customer (None: it can, maybe as the template)."""
    named = registry.capabilities(channel).label or channel
    if status == CaseStatus.RESOLVED:
        return Refused(RESOLVED.format(case=case_id), "resolved", {"case": str(case_id)})
    if not text.strip():
        return Refused(NOT_TEXT, "not_text")
    if cc is None or registry.capabilities(channel).page:  # npsbot cannot write on its page
        return Refused(NOT_REACHABLE.format(channel=named), "not_reachable", {"channel": named})
    if cc.opted_out_at is not None:
        return Refused(OPTED_OUT.format(channel=named), "opted_out", {"channel": named})
    window = registry.capabilities(channel).session_window
    if window is None or template or in_session_window(cc.last_inbound_at, window, now):
        return None
    since = ago(now - cc.last_inbound_at) if cc.last_inbound_at else ""
    last = f"theirs was {since} ago" if since else "none"
    reason = OUTSIDE_WINDOW.format(channel=named, window=ago(window), ago=last)
    return Refused(
        reason, "outside_window", {"channel": named, "window": ago(window), "since": since}
    )


def reply_to_customer(
    s: Session,
    settings: Settings,
    case_id: int,
    actor: Actor,
    text: str,
    now: datetime,
    source_message_id: int | None = None,
) -> Message | Refused:
    """Queue staff's `text` to the case's customer on the channel they answered on, or say why
    not (a `refused` event records the attempt). `source_message_id`: the staff-chat message it
    came from. Raises LookupError when there is no such case."""
    case = lock(s, case_id)
    view = load_view(s, case_id) if case is not None else None
    if case is None or view is None:
        raise LookupError(f"no case {case_id}")
    channel = view.response.channel
    cc = s.scalar(
        select(ContactChannel).where(
            ContactChannel.contact_id == case.contact_id, ContactChannel.channel == channel
        )
    )
    tpl = staff_template(view.survey.options, view.invitation.language)
    window = registry.capabilities(channel).session_window
    outside = cc is not None and not in_session_window(cc.last_inbound_at, window, now)
    refused = refusal(case.status, case.id, text, channel, cc, now, template=tpl is not None)
    if refused is not None or cc is None:
        s.add(_event(case.id, "refused", actor, text, source_message_id, now))
        return refused or Refused(NOT_TEXT, "not_text")
    body = text.strip()
    if settings.staff_show_names and actor.name:
        body = f"{body}\n— {actor.name.split()[0]}"
    template = None
    if tpl is not None:
        first = (view.contact.name or "").split()
        variables = {"1": first[0] if first else ""} | dict(tpl.get("variables", {}))
        template = Template(str(tpl["sid"]), {k: str(v) for k, v in variables.items()})
    row = queue_outbound(
        s,
        # The template also rides along inside the window: the provider falls back to it when
        # the window closed before the send (WhatsApp's 63016).
        Outbound(
            channel=channel, to=cc.address, text=body, template=template, needs_template=outside
        ),
        contact_id=case.contact_id,
        invitation_id=view.invitation.id,
        kind=TEMPLATE_KIND if outside else "staff_reply",
        now=now,
    )
    s.flush()
    s.add(_event(case.id, "staff_reply", actor, text.strip(), row.id, now))
    # Who answered whom, on which channel; never what they wrote.
    record(
        s,
        at=now,
        actor=actor.audited,
        action="case.reply",
        target=f"case:{case.id}",
        source=actor.source,
        channel=channel,
        message_id=row.id,
        template=row.kind == TEMPLATE_KIND,
    )
    if case.status == CaseStatus.OPEN:
        apply(s, case.id, "take", actor, now)  # answering the customer is taking the case
    s.flush()
    queue_refresh(s, settings, case.id, now)
    return row


def template_note(row: Message) -> str | None:
    """What to tell staff when their reply went as the approved template (None: as written)."""
    if row.kind != TEMPLATE_KIND:
        return None
    window = registry.capabilities(row.channel).session_window
    named = registry.capabilities(row.channel).label or row.channel
    return TEMPLATE_SENT.format(channel=named, window=ago(window) if window else "")


def _event(
    case_id: int, kind: str, actor: Actor, text: str, message_id: int | None, now: datetime
) -> CaseEvent:
    return CaseEvent(
        case_id=case_id,
        kind=kind,
        actor_id=actor.id,
        actor_name=actor.name,
        text=text,
        message_id=message_id,
        at=now,
    )

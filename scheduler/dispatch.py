"""Sending due invitations: claim under a lease, send outside the transaction, record.

A survey is sent at most once: a worker that dies between the send and the record leaves a lease
that expires into the visible `unknown` state (see `sweep`), never a silent resend.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.buttons import score_buttons
from bot.contacts import address_for, ensure_channel
from bot.models import ContactChannel, Invitation, Message
from bot.models import InvitationState as S
from bot.runtime import Runtime
from bot.service import queue_outbound
from bot.texts import texts_for
from channels.base import Outbound, Sent, Template
from channels.errors import ContactStopped, OutsideWindow, SendError, Throttled, Unreachable
from scheduler.claim import claim

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 6
WINDOW = timedelta(hours=24)  # WhatsApp's customer-service window


def backoff(attempt: int, retry_after: float | None = None) -> timedelta:
    """Exponential backoff with full jitter, at least what the provider asked for."""
    base = min(3600.0, 15.0 * 2 ** max(attempt - 1, 0))
    return timedelta(seconds=max(retry_after or 0.0, random.uniform(base / 2, base)))


@dataclass(frozen=True)
class Plan:
    invitation_id: int
    channel: str
    message: Outbound
    contact_id: int


def claim_due(rt: Runtime, now: datetime, limit: int = 100) -> list[int]:
    """Lease due invitations to this worker; returns their ids."""
    with rt.db.session_for_update() as s:
        rows = claim(
            s,
            select(Invitation)
            .where(Invitation.state == S.SCHEDULED, Invitation.due_at <= now)
            .order_by(Invitation.due_at)
            .limit(limit),
            rt.db.postgres,
        )
        for inv in rows:
            inv.state = S.SENDING
            inv.lease_until = now + LEASE
            inv.attempts += 1
        return [inv.id for inv in rows]


def _plan(rt: Runtime, s: Session, inv: Invitation, now: datetime) -> Plan | None:
    """The first channel in the invitation's order that is configured, reachable and allowed."""
    for name in inv.channels:
        if name not in rt.channels:
            continue
        contact = inv.contact
        cc = s.scalar(
            select(ContactChannel).where(
                ContactChannel.contact_id == contact.id, ContactChannel.channel == name
            )
        )
        address = cc.address if cc else address_for(contact, name)
        if address is None:
            continue
        cc = cc or ensure_channel(s, contact, name, address)
        if cc.opted_out_at is not None or cc.unreachable_at is not None:
            continue
        texts = texts_for(
            inv.language,
            inv.survey.texts,
            default=rt.settings.default_language,
            business=rt.settings.business_name,
        )
        template = None
        tpl = inv.survey.options.get("whatsapp_templates", {}).get(inv.language)
        if tpl:
            template = Template(tpl["sid"], {"1": contact.name or ""} | tpl.get("variables", {}))
        inside_window = cc.last_inbound_at is not None and now - cc.last_inbound_at < WINDOW
        msg = Outbound(
            channel=name,
            to=address,
            text=texts("question"),
            buttons=score_buttons(rt.settings.secret_key, inv.id),
            buttons_optional=True,
            template=template,
            needs_template=name == "whatsapp" and not inside_window,
            ref=f"inv-{inv.id}",
        )
        return Plan(inv.id, name, msg, contact.id)
    return None


def dispatch_one(rt: Runtime, invitation_id: int) -> None:
    tried: set[str] = set()
    while True:
        now = rt.clock()
        with rt.db.session() as s:
            inv = s.get(Invitation, invitation_id)
            if inv is None or inv.state != S.SENDING:
                return
            plan = _plan(rt, s, inv, now)
            if plan is None or plan.channel in tried:
                inv.state = S.FAILED
                inv.last_error = inv.last_error or "no configured, reachable channel"
                inv.lease_until = None
                return
        tried.add(plan.channel)
        try:
            sent = rt.channels[plan.channel].send(plan.message)
        except SendError as exc:
            if _failed(rt, plan, exc):
                continue  # the next channel in the order
            return
        _record_sent(rt, plan, sent)
        return


def _record_sent(rt: Runtime, plan: Plan, sent: Sent) -> None:
    now = rt.clock()
    with rt.db.session() as s:
        inv = s.get(Invitation, plan.invitation_id)
        assert inv is not None
        inv.state = S.ASKED
        inv.channel = plan.channel
        inv.sent_at = now
        inv.lease_until = None
        inv.last_error = None
        inv.expires_at = now + timedelta(hours=inv.survey.expiry_hours)
        row = queue_outbound(
            s,
            plan.message,
            contact_id=plan.contact_id,
            invitation_id=inv.id,
            kind="question",
            status=sent.status,
            now=now,
        )
        row.provider_id = sent.provider_id
        row.status_at = now
        row.attempts = 1


def _failed(rt: Runtime, plan: Plan, exc: SendError) -> bool:
    """Record a failed send. True when the next channel should be tried now."""
    now = rt.clock()
    log.warning(
        "sending invitation %s on %s failed: %s",
        plan.invitation_id,
        plan.channel,
        type(exc).__name__,
    )
    with rt.db.session() as s:
        inv = s.get(Invitation, plan.invitation_id)
        assert inv is not None
        inv.last_error = f"{plan.channel}: {type(exc).__name__}" + (
            f" {exc.code}" if exc.code else ""
        )
        inv.lease_until = None
        cc = s.scalar(
            select(ContactChannel).where(
                ContactChannel.contact_id == plan.contact_id, ContactChannel.channel == plan.channel
            )
        )
        if isinstance(exc, ContactStopped) and cc is not None:
            cc.opted_out_at = now
            return True
        if isinstance(exc, OutsideWindow):
            return True  # no template for this language: try the next channel, keep WhatsApp
        if isinstance(exc, Unreachable) and cc is not None:
            cc.unreachable_at = now
            cc.unreachable_reason = inv.last_error
            return True
        if exc.retryable and inv.attempts < MAX_ATTEMPTS:
            inv.state = S.SCHEDULED
            inv.due_at = now + backoff(
                inv.attempts, exc.retry_after if isinstance(exc, Throttled) else None
            )
            return False
        inv.state = S.FAILED
        return False


def sweep(rt: Runtime, now: datetime) -> None:
    """Time-based moves: expired leases become `unknown`, unanswered surveys expire."""
    with rt.db.session() as s:
        s.execute(
            update(Invitation)
            .where(Invitation.state == S.SENDING, Invitation.lease_until < now)
            .values(
                state=S.UNKNOWN, last_error="lease expired: the send may or may not have happened"
            )
        )
        s.execute(
            update(Invitation)
            .where(Invitation.state == S.ASKED, Invitation.expires_at < now)
            .values(state=S.EXPIRED, updated_at=now)
        )
        s.execute(
            update(Message)
            .where(
                Message.direction == "out",
                Message.status == "sending",
                Message.next_attempt_at < now - LEASE,
            )
            .values(status="unknown")
        )

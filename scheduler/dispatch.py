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
from bot.models import ContactChannel, Invitation, Message, Survey
from bot.models import InvitationState as S
from bot.rules import contact_zone, outside_quiet_hours, parse_quiet, skip_reason
from bot.runtime import Runtime
from bot.service import queue_outbound
from bot.texts import texts_for
from channels.base import Outbound, Sent, Template
from channels.errors import ContactStopped, OutsideWindow, SendError, Throttled, Unreachable
from scheduler.claim import claim

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)  # outbox rows; invitations use `lease_for` (DISPATCH_LEASE_SECONDS)
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


def lease_for(rt: Runtime) -> timedelta:
    """How long a worker holds an invitation it is sending (`DISPATCH_LEASE_SECONDS`)."""
    return timedelta(seconds=rt.settings.dispatch_lease_seconds)


def claim_due(rt: Runtime, now: datetime, limit: int = 100) -> list[int]:
    """Lease due invitations to this worker; returns their ids."""
    lease = lease_for(rt)
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
            inv.lease_until = now + lease
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


def _still_wanted(rt: Runtime, s: Session, inv: Invitation, now: datetime) -> bool:
    """The rules again at send time (an opt-out or another survey may have come since); quiet
    hours defer, never drop."""
    reason = skip_reason(s, inv.survey, inv.contact, inv.channels, now, exclude=inv.id)
    if reason is not None:
        inv.state, inv.skip_reason, inv.lease_until = S.SKIPPED, reason, None
        return False
    quiet = parse_quiet(inv.survey.options.get("quiet_hours"))
    later = outside_quiet_hours(now, contact_zone(inv.contact), quiet)
    if later > now:
        inv.state, inv.due_at, inv.lease_until = S.SCHEDULED, later, None
        inv.attempts = max(inv.attempts - 1, 0)  # deferring is not a failed attempt
        return False
    return True


def _awaiting_link(inv: Invitation, now: datetime) -> bool:
    return (
        inv.link_token is not None
        and inv.link_expires_at is not None
        and inv.link_expires_at > now
        and "telegram" in inv.channels
    )


def dispatch_one(rt: Runtime, invitation_id: int) -> None:
    tried: set[str] = set()
    while True:
        now = rt.clock()
        with rt.db.session() as s:
            # Locked, so a sweep in another worker either made it `unknown` before this read
            # (then it is not sent) or sees the lease renewed below (then it is left alone).
            inv = s.get(Invitation, invitation_id, with_for_update=True)
            if inv is None or inv.state != S.SENDING:
                return
            if not tried and not _still_wanted(rt, s, inv, now):
                return
            plan = _plan(rt, s, inv, now)
            if plan is None and not tried and _awaiting_link(inv, now):
                # Only Telegram is left and the customer has not opened the deep link yet:
                # wait for /start (which makes it due at once) until the link expires.
                assert inv.link_expires_at is not None
                inv.state, inv.due_at, inv.lease_until = S.SCHEDULED, inv.link_expires_at, None
                inv.attempts = max(inv.attempts - 1, 0)
                return
            if plan is None or plan.channel in tried:
                inv.state = S.FAILED
                inv.last_error = inv.last_error or "no configured, reachable channel"
                inv.lease_until = None
                return
            # Recorded before the send, so an `unknown` invitation says where it was going.
            inv.channel = plan.channel
            # The lease covers this send from now: time spent waiting in the pool behind the
            # rest of the batch, or on an earlier channel, must not make a live send `unknown`.
            inv.lease_until = now + lease_for(rt)
        tried.add(plan.channel)
        if rt.limiter is not None and not rt.limiter.acquire(plan.channel):
            _failed(rt, plan, Throttled("local rate limit: no slot within 30 s"))
            return
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


def remind(rt: Runtime, now: datetime, limit: int = 100) -> int:
    """One reminder, after the survey's reminder_hours without an answer (a template on
    WhatsApp outside the 24 h window)."""
    done = 0
    with rt.db.session_for_update() as s:
        for survey in s.scalars(select(Survey).where(Survey.reminder_hours.is_not(None))):
            assert survey.reminder_hours is not None
            due = claim(
                s,
                select(Invitation)
                .where(
                    Invitation.survey_id == survey.id,
                    Invitation.state == S.ASKED,
                    Invitation.reminded_at.is_(None),
                    Invitation.sent_at < now - timedelta(hours=survey.reminder_hours),
                    Invitation.expires_at > now,
                )
                .limit(limit),
                rt.db.postgres,
            )
            for inv in due:
                inv.reminded_at = now
                inv.state = S.SENDING  # _plan wants the invitation's own channel first
                inv.channels = [inv.channel or "", *[c for c in inv.channels if c != inv.channel]]
                plan = _plan(rt, s, inv, now)
                inv.state = S.ASKED
                if plan is None or plan.channel != inv.channel:
                    continue  # opted out or unreachable since: no reminder
                queue_outbound(
                    s,
                    plan.message,
                    contact_id=plan.contact_id,
                    invitation_id=inv.id,
                    kind="reminder",
                    now=now,
                )
                done += 1
    if done:
        rt.wake.set()
    return done


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

"""One reminder per survey, after its reminder_hours without an answer, on the channel the
survey went out on (a template where the session window has closed)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.runtime import Runtime
from bot.storage.messages import queue_outbound
from bot.storage.models import ContactChannel, Invitation, Survey
from bot.storage.models import InvitationState as S
from bot.survey.contacts import address_for, ensure_channel
from bot.survey.rules import (
    Reach,
    choose_channel,
    contact_zone,
    outside_quiet_hours,
    send_quiet,
)
from bot.texts import texts_for
from channels import registry
from scheduler.claim import claim
from scheduler.dispatch.plan import question


def remind(rt: Runtime, now: datetime, limit: int = 100) -> int:
    """Queue the due reminders (the outbox sends them); returns how many. A reminder due in the
    customer's quiet hours waits for their end, like a survey: it stays due, and the next pass
    after the quiet hours sends it (unless the customer answered or the survey expired first).
    Each pass reads the waiting ones again: few with reminders in whole days (a send outside
    the quiet hours, a day later, is outside them too)."""
    done = 0
    with rt.db.session_for_update() as s:
        for survey in s.scalars(select(Survey).where(Survey.reminder_hours.is_not(None))):
            assert survey.reminder_hours is not None
            waiting: list[int] = []  # in their quiet hours: not a batch's worth of others
            while True:
                due = claim(
                    s,
                    select(Invitation)
                    .where(
                        Invitation.survey_id == survey.id,
                        Invitation.state == S.ASKED,
                        Invitation.reminded_at.is_(None),
                        Invitation.sent_at < now - timedelta(hours=survey.reminder_hours),
                        Invitation.expires_at > now,
                        Invitation.id.not_in(waiting),
                    )
                    .order_by(Invitation.sent_at)
                    .limit(limit),
                    rt.db.postgres,
                )
                for inv in due:
                    if _quiet(inv, now):
                        waiting.append(inv.id)
                        continue
                    inv.reminded_at = now
                    if _queue(rt, s, inv, now):
                        done += 1
                if len(due) < limit or done >= limit:
                    break
    if done:
        rt.wake.set()
    return done


def _quiet(inv: Invitation, now: datetime) -> bool:
    """The customer is in their quiet hours on the invitation's channel now."""
    quiet = send_quiet(inv.survey.options, [inv.channel or ""])
    assert inv.contact is not None  # asked: an erased customer's invitation is expired
    return outside_quiet_hours(now, contact_zone(inv.contact), quiet) > now


def _queue(rt: Runtime, s: Session, inv: Invitation, now: datetime) -> bool:
    """Queue the reminder on the invitation's own channel; False when the customer opted out or
    became unreachable there since."""
    contact = inv.contact
    assert contact is not None  # asked: an erased customer's invitation is expired
    rows = {
        cc.channel: cc
        for cc in s.scalars(select(ContactChannel).where(ContactChannel.contact_id == contact.id))
    }
    known = {
        name: Reach(cc.address, cc.opted_out_at is not None, cc.unreachable_at is not None)
        for name, cc in rows.items()
    }
    chosen = choose_channel(
        [inv.channel or ""], rt.channels, known, lambda c: address_for(contact, c)
    )
    if chosen is None or registry.capabilities(chosen[0]).page:
        return False  # the page cannot remind anyone: the business's own e-mail may
    name, address = chosen
    cc = rows.get(name) or ensure_channel(s, contact, name, address)
    texts = texts_for(
        inv.language,
        inv.survey.texts,
        default=rt.settings.default_language,
        business=rt.settings.business_name,
    )
    msg = question(
        rt,
        inv.id,
        inv.survey.options,
        inv.language,
        contact.name,
        name,
        address,
        cc.last_inbound_at,
        texts,
        now,
    )
    queue_outbound(s, msg, contact_id=contact.id, invitation_id=inv.id, kind="reminder", now=now)
    return True

"""Staff work for the dispatcher loop: send due alerts, escalate, time out the "why", digests.

Alerts are claimed like the outbox (FOR UPDATE SKIP LOCKED on PostgreSQL) under a lease and sent
outside the transaction. Unlike survey invitations they are sent *at least once*: a lease that
expires mid-send makes the alert pending again (a repeated staff alert is harmless, a lost one
is not).

Pacing: Telegram lets a bot post about 20 messages a minute in one group. Before claiming an
alert for a Telegram chat, the sends to that chat in the last 60 s are counted from the
database itself (sent alerts + outbox messages), so the budget holds across restarts and
workers without another table or service; an alert over budget waits for the next free slot.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.events import Event
from bot.inbound.answer import complete
from bot.runtime import Runtime
from bot.staff import cases, digest
from bot.staff.alerts import (
    STAFF_CHANNEL,
    TELEGRAM,
    URL,
    destinations,
    enqueue,
    escalation_destinations,
    telegram_chat,
    url_for,
)
from bot.staff.cards import render_alert
from bot.storage.models import (
    Alert,
    AlertState,
    Case,
    CaseEvent,
    Invitation,
    Message,
    Response,
)
from bot.storage.models import InvitationState as S
from bot.survey.surveys import survey_options
from channels.apprise import notify
from channels.base import Button, Outbound
from channels.errors import SendError, SendFailed, Throttled
from scheduler.claim import claim
from scheduler.retry import MAX_ATTEMPTS, backoff
from scheduler.send import Sender

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
GROUP_PER_MINUTE = (
    20  # https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this
)
MINUTE = timedelta(seconds=60)


@dataclass(frozen=True)
class Work:
    alert_id: int
    destination: str
    title: str
    text: str
    buttons: tuple[tuple[Button, ...], ...]
    attempts: int


def _recent_sends(s: Session, destination: str, now: datetime) -> tuple[int, datetime | None]:
    """Messages sent to a Telegram chat in the last minute, and the oldest of them."""
    chat = telegram_chat(destination)
    since = now - MINUTE
    alerts = s.execute(
        select(func.count(Alert.id), func.min(Alert.sent_at)).where(
            Alert.destination == destination, Alert.sent_at > since
        )
    ).one()
    messages = s.execute(
        select(func.count(Message.id), func.min(Message.status_at)).where(
            Message.channel == STAFF_CHANNEL,
            Message.direction == "out",
            Message.address == chat,
            Message.status_at > since,
        )
    ).one()
    oldest = [t for t in (alerts[1], messages[1]) if t is not None]
    return int(alerts[0]) + int(messages[0]), min(oldest) if oldest else None


def _claim(rt: Runtime, now: datetime, limit: int) -> list[Work]:
    with rt.db.session_for_update() as s:
        # At least once: a send that never recorded its result is tried again.
        s.execute(
            update(Alert)
            .where(Alert.state == AlertState.SENDING, Alert.lease_until < now)
            .values(state=AlertState.PENDING, next_attempt_at=now, lease_until=None)
        )
        rows: list[Alert] = claim(
            s,
            select(Alert)
            .where(Alert.state == AlertState.PENDING, Alert.next_attempt_at <= now)
            .order_by(Alert.next_attempt_at, Alert.id)
            .limit(limit),
            rt.db.postgres,
        )
        budget: dict[str, int] = {}
        next_free: dict[str, datetime] = {}
        work: list[Work] = []
        for alert in rows:
            dest = alert.destination
            if dest.startswith(TELEGRAM):
                if dest not in budget:
                    count, oldest = _recent_sends(s, dest, now)
                    budget[dest] = GROUP_PER_MINUTE - count
                    next_free[dest] = (oldest or now) + MINUTE
                if budget[dest] <= 0:
                    # Over the group's budget: wait for the oldest send to leave the window.
                    alert.next_attempt_at = max(next_free[dest], now + timedelta(seconds=1))
                    continue
                budget[dest] -= 1
            rendered = render_alert(s, rt.settings, alert, now)
            if rendered is None:
                alert.state, alert.last_error = AlertState.FAILED, "case deleted"
                continue
            alert.state = AlertState.SENDING
            alert.lease_until = now + LEASE
            alert.attempts += 1
            work.append(Work(alert.id, dest, *rendered, attempts=alert.attempts))
        return work


def _send(rt: Runtime, sender: Sender, w: Work) -> str:
    """Deliver one alert; its provider id. Raises SendError."""
    chat = telegram_chat(w.destination)
    if chat is not None:
        if STAFF_CHANNEL not in rt.channels:
            raise SendFailed("TELEGRAM_BOT_TOKEN is not set", retryable=False)
        msg = Outbound(channel=STAFF_CHANNEL, to=chat, text=w.text, buttons=w.buttons)
        return sender.send(msg).provider_id
    if w.destination.startswith(URL):
        with rt.db.session() as s:  # the routes as stored now; released before the send
            url = url_for(rt.settings, w.destination, survey_options(s))
        if url is None:
            raise SendFailed("notification URL no longer configured", retryable=False)
        if not notify(url, w.title, w.text):
            raise SendFailed("the notification service did not accept it", retryable=True)
        return w.destination
    raise SendFailed(f"unknown destination kind {w.destination.split(':')[0]}", retryable=False)


def send_alerts(rt: Runtime, now: datetime, sender: Sender, limit: int = 50) -> int:
    """Send due alerts; returns how many were attempted."""
    work = _claim(rt, now, limit)
    for w in work:
        try:
            provider_id: str | None = _send(rt, sender, w)
            error: SendError | None = None
        except SendError as exc:
            provider_id, error = None, exc
            log.warning("alert %s to %s failed: %s", w.alert_id, w.destination, type(exc).__name__)
        done = rt.clock()
        with rt.db.session() as s:
            alert = s.get(Alert, w.alert_id)
            if alert is None:
                continue
            alert.lease_until = None
            if error is None:
                alert.state, alert.provider_id, alert.sent_at = AlertState.SENT, provider_id, done
                alert.last_error = None
                _record_sent(s, alert, done)
            elif error.retryable and w.attempts < MAX_ATTEMPTS:
                retry = error.retry_after if isinstance(error, Throttled) else None
                alert.state = AlertState.PENDING
                alert.next_attempt_at = done + backoff(w.attempts, retry)
                alert.last_error = f"{type(error).__name__} {error.code or ''}".strip()[:300]
            else:
                alert.state = AlertState.FAILED
                alert.last_error = f"{type(error).__name__} {error.code or ''}".strip()[:300]
    return len(work)


def _record_sent(s: Session, alert: Alert, now: datetime) -> None:
    if alert.case_id is None:
        return
    case = s.get(Case, alert.case_id)
    if case is None:
        return
    if alert.kind == "alert" and case.alerted_at is None:
        case.alerted_at = now
    kind = "alerted" if alert.kind == "alert" else "escalated"
    s.add(CaseEvent(case_id=case.id, kind=kind, text=f"{alert.kind} → {alert.destination}", at=now))


def escalate(rt: Runtime, now: datetime) -> int:
    """Re-alert cases nobody took within STAFF_TAKE_MINUTES, and cases still unresolved after
    STAFF_RESOLVE_HOURS, to the escalation group (once each: the alerts' unique key)."""
    dests = escalation_destinations(rt.settings)
    if not dests:
        return 0
    announced = select(Alert.case_id).where(Alert.kind == "alert").scalar_subquery()
    added = 0
    with rt.db.session_for_update() as s:
        for deadline in cases.deadlines(rt.settings, now):
            kind = f"escalate_{deadline.kind}"
            done = select(Alert.case_id).where(Alert.kind == kind).scalar_subquery()
            due = s.scalars(
                select(Case.id).where(
                    cases.past(deadline),
                    Case.id.in_(announced),
                    Case.id.not_in(done),
                )
            )
            for case_id in list(due):
                added += enqueue(s, case_id=case_id, destinations=dests, kind=kind, now=now)
    return added


def complete_stale_reasons(rt: Runtime, now: datetime, limit: int = 100) -> int:
    """A score whose "why" never came completes after REASON_TIMEOUT_MINUTES, so its alert
    goes out (without a comment; a later comment still lands in the case's thread)."""
    cut = now - timedelta(minutes=rt.settings.reason_timeout_minutes)
    events: list[Event] = []
    with rt.db.session_for_update() as s:
        rows: list[Invitation] = claim(
            s,
            select(Invitation)
            .join(Response, Response.invitation_id == Invitation.id)
            .where(Invitation.state == S.AWAITING_REASON, Response.scored_at < cut)
            .order_by(Invitation.id)
            .limit(limit),
            rt.db.postgres,
        )
        for inv in rows:
            response = inv.response
            if response is None:
                continue
            inv.state = S.COMPLETED
            complete(s, response, now, events)
    rt.bus.publish(*events)
    return len(rows)


def queue_digest(rt: Runtime, now: datetime) -> int:
    """Queue the digest of the period that just ended (STAFF_DIGEST), once per destination."""
    period = rt.settings.staff_digest
    if period == "off" or now.hour < rt.settings.staff_digest_hour:
        return 0
    start, end = digest.bounds(period, now)
    kind = f"digest:{period}:{start.date().isoformat()}"
    with rt.db.session_for_update() as s:
        if rt.db.postgres:
            # One worker builds it: NULL case ids never conflict in the unique key.
            s.execute(select(func.pg_advisory_xact_lock(8_000_001)))
        dests = destinations(rt.settings, {}, {})
        pending = [
            d
            for d in dests
            if s.scalar(select(Alert.id).where(Alert.kind == kind, Alert.destination == d)) is None
        ]
        if not pending:
            return 0
        d = digest.build(s, period, end, now)
        text = digest.render(d, now)
        return enqueue(
            s,
            case_id=None,
            destinations=pending,
            kind=kind,
            now=now,
            payload={"title": f"NPS {period} digest", "text": text},
        )


def staff_step(rt: Runtime, now: datetime, sender: Sender) -> int:
    """Everything staff-related the loop does each tick; returns alerts attempted."""
    complete_stale_reasons(rt, now)
    escalate(rt, now)
    queue_digest(rt, now)
    return send_alerts(rt, now, sender)

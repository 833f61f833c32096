"""Delivering outbound webhooks (issue 21): claimed from `webhook_deliveries` like the alerts
(FOR UPDATE SKIP LOCKED on PostgreSQL, the writer lock on SQLite), signed per Standard Webhooks
with its own library, and POSTed outside any transaction.

- At least once: every attempt carries the event's id as `webhook-id` (the receiver's dedupe
  key); a lease that expires mid-call makes the delivery pending again.
- Ordered per contact: a contact's later event waits while an earlier one to the same endpoint
  is pending or being sent (a given-up one no longer holds it).
- Retries: 2xx is delivered; 410 Gone disables the endpoint at once; anything else (another
  status, a timeout, a refused connection) is tried again after BACKOFF (with jitter), about a
  day in all, then given up.
- An endpoint that has failed for DISABLE_AFTER with no success in between is disabled, and
  staff get a notice through the staff alert queue (the digests' path).
"""

from __future__ import annotations

import logging
import random
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from urllib.parse import urlsplit

import httpx
from sqlalchemy import exists, or_, select, update
from sqlalchemy.orm import Session, aliased
from standardwebhooks.webhooks import Webhook

from bot.integrations.webhooks import signing_secrets
from bot.runtime import Runtime
from bot.staff.alerts import destinations, enqueue
from bot.storage.hooks import body
from bot.storage.models import DeliveryState, WebhookDelivery, WebhookEvent, WebhookSubscription

log = logging.getLogger(__name__)

D = WebhookDelivery
BACKOFF = tuple(
    timedelta(seconds=s) for s in (30, 120, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600)
)
MAX_ATTEMPTS = 1 + len(BACKOFF)  # the first at once, then one per BACKOFF: ~22 h 43 min
JITTER = 0.1  # up to 10% later, so endpoints coming back are not hit by every retry at once
DISABLE_AFTER = timedelta(hours=22)  # failing this long: an event's whole schedule failed
LEASE = timedelta(minutes=2)
TIMEOUT = 10.0  # seconds for one call; the spec asks receivers to answer quickly
BATCH = 10  # calls claimed at once: even all timing out (100 s), their lease still holds
GONE = 410  # "stop sending": https://www.standardwebhooks.com/ (spec, "Disabling endpoints")


@dataclass(frozen=True)
class Work:
    delivery_id: int
    subscription_id: int
    url: str
    secrets: tuple[str, ...]
    event_id: str
    body: str


@dataclass(frozen=True)
class Result:
    status: int | None
    latency_ms: int
    error: str | None


def _wall() -> datetime:
    # webhook-timestamp is checked against the receiver's own clock (5 minutes' tolerance in
    # the spec's libraries): it is the real time of the call, not the scheduler's clock.
    return datetime.now(UTC)


@cache
def _tls() -> ssl.SSLContext:
    # Loading the CA bundle costs more than a loopback call: once per process, not per pass.
    return ssl.create_default_context()


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt."""
    delay = BACKOFF[min(attempts, len(BACKOFF)) - 1]
    return delay + delay * random.uniform(0, JITTER)


def _claim(rt: Runtime, now: datetime, limit: int) -> list[Work]:
    earlier = aliased(WebhookDelivery)
    held = exists().where(
        earlier.subscription_id == D.subscription_id,
        earlier.contact_key == D.contact_key,
        earlier.id < D.id,
        earlier.state.in_((DeliveryState.PENDING, DeliveryState.SENDING)),
    )
    with rt.db.session_for_update() as s:
        # At least once: a call that never recorded its result is made again.
        s.execute(
            update(D)
            .where(D.state == DeliveryState.SENDING, D.lease_until < now)
            .values(state=DeliveryState.PENDING, next_attempt_at=now, lease_until=None)
        )
        stmt = (
            select(D, WebhookEvent, WebhookSubscription)
            .join(WebhookEvent, WebhookEvent.id == D.event_id)
            .join(WebhookSubscription, WebhookSubscription.id == D.subscription_id)
            .where(
                D.state == DeliveryState.PENDING,
                D.next_attempt_at <= now,
                WebhookSubscription.disabled_at.is_(None),
                or_(D.contact_key.is_(None), ~held),
            )
            .order_by(D.id)
            .limit(limit)
        )
        if rt.db.postgres:
            stmt = stmt.with_for_update(skip_locked=True, of=D)
        work: list[Work] = []
        for d, e, sub in s.execute(stmt):
            d.state, d.lease_until = DeliveryState.SENDING, now + LEASE
            d.attempts += 1
            d.last_attempt_at = now
            text = body(e.id, e.type, e.at, e.payload)
            keys = tuple(signing_secrets(sub, now))
            work.append(Work(d.id, sub.id, sub.url, keys, e.id, text))
        return work


def sign(w: Work, when: datetime) -> dict[str, str]:
    """The spec's three headers; one signature per secret, space-separated, during a rotation."""
    signatures = " ".join(Webhook(k).sign(w.event_id, when, w.body) for k in w.secrets)
    return {
        "webhook-id": w.event_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": signatures,
        "content-type": "application/json",
        "user-agent": "npsbot-webhooks/1",
    }


def _call(client: httpx.Client, w: Work, when: datetime) -> Result:
    started = time.monotonic()
    try:
        answer = client.post(w.url, content=w.body.encode(), headers=sign(w, when))
        status, error = answer.status_code, None
        if not 200 <= status < 300:
            error = f"HTTP {status}"
    except httpx.HTTPError as exc:
        status, error = None, type(exc).__name__
    return Result(status, int((time.monotonic() - started) * 1000), error)


def deliver_webhooks(
    rt: Runtime, now: datetime, *, limit: int = BATCH, wall: Callable[[], datetime] = _wall
) -> int:
    """Make the due calls; returns how many were attempted."""
    work = _claim(rt, now, limit)
    if not work:
        return 0
    notices = 0
    with httpx.Client(timeout=TIMEOUT, verify=_tls(), follow_redirects=False) as client:
        for w in work:
            result = _call(client, w, wall())
            with rt.db.session_for_update() as s:
                notices += _record(rt, s, w, result, rt.clock())
    if notices:
        rt.wake.set()  # the staff notice leaves with the alerts
    return len(work)


def _record(rt: Runtime, s: Session, w: Work, result: Result, done: datetime) -> int:
    """Write an attempt's outcome; returns the staff notices queued (0 or 1)."""
    d, sub = s.get(D, w.delivery_id), s.get(WebhookSubscription, w.subscription_id)
    if d is None or sub is None:
        return 0  # the subscription was removed meanwhile
    d.lease_until = None
    d.last_status, d.latency_ms = result.status, result.latency_ms
    d.last_error = result.error
    if result.error is None:
        d.state, d.delivered_at = DeliveryState.DELIVERED, done
        sub.failing_since = None
        return 0
    if result.status == GONE:
        d.state = DeliveryState.FAILED
        return disable(rt, s, sub, done, "the endpoint answered 410 Gone")
    sub.failing_since = sub.failing_since or done
    if d.attempts < MAX_ATTEMPTS:
        d.state, d.next_attempt_at = DeliveryState.PENDING, done + backoff(d.attempts)
    else:
        d.state = DeliveryState.FAILED
    if done - sub.failing_since >= DISABLE_AFTER:
        hours = int((done - sub.failing_since).total_seconds() // 3600)
        return disable(rt, s, sub, done, f"every call failed for {hours} hours")
    return 0


def disable(rt: Runtime, s: Session, sub: WebhookSubscription, now: datetime, reason: str) -> int:
    """Stop calling the endpoint (its deliveries wait) and tell staff; returns notices queued."""
    if sub.disabled_at is not None:
        return 0
    sub.disabled_at, sub.disabled_reason = now, reason[:200]
    log.warning("webhook %s disabled: %s", sub.id, reason)
    host = urlsplit(sub.url).hostname or "?"  # the path or query may carry a token
    text = (
        f"⚠️ npsbot stopped calling the webhook #{sub.id} ({host}): {reason}. Its events wait "
        f"for it: once the endpoint works, enable it again (dashboard → Webhooks, or "
        f"`npsbot webhooks enable {sub.id}`)."
    )
    dests = destinations(rt.settings, {}, {})
    if not dests:
        log.warning(
            "no staff destination for the notice (STAFF_TELEGRAM_CHAT_ID, STAFF_NOTIFY_URLS)"
        )
        return 0
    kind = f"webhook_disabled:{sub.id}:{int(now.timestamp())}"
    payload = {"title": "npsbot: a webhook was disabled", "text": text}
    return min(1, enqueue(s, case_id=None, destinations=dests, kind=kind, now=now, payload=payload))

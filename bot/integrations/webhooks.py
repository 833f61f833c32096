"""Managing outbound webhooks (issue 21): subscriptions, secrets and their rotation, the
delivery log and replay. The API, the CLI and the dashboard call these, each inside its own
transaction, and each change is an audit row. Delivery is the worker's (`scheduler.webhooks`)."""

from __future__ import annotations

import base64
import ipaddress
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.storage import audit
from bot.storage.db import refused_text
from bot.storage.hooks import EVENT_TYPES, iso
from bot.storage.models import DeliveryState, WebhookDelivery, WebhookEvent, WebhookSubscription

MAX_URL = 2000
MAX_DESCRIPTION = 200
DEFAULT_OVERLAP = timedelta(hours=24)  # how long the previous secret still signs after a rotation
MAX_OVERLAP = timedelta(days=7)
MAX_REPLAY = 10_000  # deliveries one replay re-queues at most


class Refused(ValueError):
    """A request npsbot will not do; the message says why (the API's 400 reason)."""


@dataclass(frozen=True)
class Actor:
    """Who acts and from where, for the audit: ("api:shop", "10.0.0.1"), ("cli", "cli")."""

    name: str
    source: str


def new_secret() -> str:
    """A Standard Webhooks secret: "whsec_" and 24 random bytes in base64 (192 bits)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata", "instance-data"})


def _link_local(host: str) -> bool:
    host = host.rstrip(".").lower()
    if host in METADATA_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_link_local
    except ValueError:  # a name, not an address
        return False


def check_url(url: object) -> str:
    if not isinstance(url, str) or not url.strip():
        raise Refused("url: the endpoint's URL is required")
    url = url.strip()
    if refused_text(url) is not None or not url.isprintable():
        raise Refused("url: printable text only")
    try:
        parts = urlsplit(url)
        ok = parts.scheme in ("https", "http") and bool(parts.hostname)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        ok = False
    if not ok:
        raise Refused("url: an http(s) URL with a host, such as https://example.com/npsbot")
    if _link_local(parts.hostname or ""):
        # A key holder must not make the worker read a cloud's instance metadata (and its
        # credentials) at 169.254.169.254 and the like; redirects are never followed either.
        raise Refused("url: link-local and cloud metadata addresses are refused")
    if len(url) > MAX_URL:
        raise Refused(f"url: at most {MAX_URL} characters")
    return url


def check_events(events: object) -> list[str]:
    if not isinstance(events, list) or not events or not all(isinstance(e, str) for e in events):
        raise Refused("events: a non-empty list of event types: " + ", ".join(EVENT_TYPES))
    unknown = [e for e in events if e not in EVENT_TYPES]
    if unknown:
        raise Refused(f"events: unknown {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}")
    return list(dict.fromkeys(events))


def subscription_json(sub: WebhookSubscription, now: datetime) -> dict[str, Any]:
    """A subscription as the API and the CLI show it: never its secrets."""
    rotating = sub.previous_secret is not None and (sub.previous_expires_at or now) > now
    return {
        "id": sub.id,
        "url": sub.url,
        "description": sub.description,
        "events": list(sub.event_types),
        "enabled": sub.disabled_at is None,
        "disabled_at": sub.disabled_at and iso(sub.disabled_at),
        "disabled_reason": sub.disabled_reason,
        "previous_secret_expires_at": iso(sub.previous_expires_at)
        if rotating and sub.previous_expires_at
        else None,
        "created_at": iso(sub.created_at),
    }


def create(
    s: Session,
    *,
    url: object,
    events: object,
    now: datetime,
    actor: Actor,
    description: object = None,
) -> tuple[WebhookSubscription, str]:
    """A new subscription and its secret (shown once: the caller hands it to the business)."""
    if description is not None and (
        not isinstance(description, str)
        or len(description) > MAX_DESCRIPTION
        or refused_text(description) is not None
    ):
        raise Refused(f"description: a text of at most {MAX_DESCRIPTION} characters")
    secret = new_secret()
    sub = WebhookSubscription(
        url=check_url(url),
        event_types=check_events(events),
        description=description or None,
        secret=secret,
        created_at=now,
    )
    s.add(sub)
    s.flush()
    _audit(s, now, actor, "webhook.create", sub, events=len(sub.event_types))
    return sub, secret


def get(s: Session, sub_id: int) -> WebhookSubscription:
    sub = s.get(WebhookSubscription, sub_id)
    if sub is None:
        raise LookupError(f"no webhook {sub_id}")
    return sub


def listing(s: Session) -> list[WebhookSubscription]:
    return list(s.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id)))


def remove(s: Session, sub_id: int, *, now: datetime, actor: Actor) -> None:
    """Delete the subscription and its deliveries (their log goes with it)."""
    sub = get(s, sub_id)
    _audit(s, now, actor, "webhook.remove", sub)
    s.delete(sub)


def rotate(
    s: Session, sub_id: int, *, now: datetime, actor: Actor, overlap: timedelta = DEFAULT_OVERLAP
) -> str:
    """A new secret; the current one keeps signing too (two signatures per call) for `overlap`,
    so the receiver can switch at its pace. Returns the new secret, shown once."""
    if not timedelta(0) <= overlap <= MAX_OVERLAP:
        raise Refused(f"overlap: between 0 and {MAX_OVERLAP.days * 24} hours")
    sub = get(s, sub_id)
    secret = new_secret()
    sub.previous_secret, sub.previous_expires_at = sub.secret, now + overlap
    sub.secret = secret
    _audit(s, now, actor, "webhook.rotate", sub, overlap_hours=overlap.total_seconds() / 3600)
    return secret


def set_enabled(
    s: Session, sub_id: int, enabled: bool, *, now: datetime, actor: Actor
) -> WebhookSubscription:
    """Disable (its deliveries wait) or enable again (they go on, the failure count anew)."""
    sub = get(s, sub_id)
    if enabled:
        sub.disabled_at = sub.disabled_reason = sub.failing_since = None
    elif sub.disabled_at is None:
        sub.disabled_at, sub.disabled_reason = now, f"disabled by {actor.name}"[:200]
    _audit(s, now, actor, "webhook.enable" if enabled else "webhook.disable", sub)
    return sub


def signing_secrets(sub: WebhookSubscription, now: datetime) -> list[str]:
    """The secrets that sign a call now: the current one, and the previous during its overlap."""
    keep = sub.previous_secret and sub.previous_expires_at and sub.previous_expires_at > now
    return [sub.secret, *([sub.previous_secret] if keep and sub.previous_secret else [])]


def deliveries(
    s: Session, sub_id: int, *, limit: int = 50, state: str | None = None
) -> list[tuple[WebhookDelivery, WebhookEvent]]:
    """The delivery log of a subscription, newest first."""
    get(s, sub_id)
    if state is not None and state not in set(DeliveryState):
        raise Refused("state: one of " + ", ".join(DeliveryState))
    stmt = (
        select(WebhookDelivery, WebhookEvent)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.subscription_id == sub_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    )
    if state is not None:
        stmt = stmt.where(WebhookDelivery.state == state)
    return [(d, e) for d, e in s.execute(stmt)]


def delivery_json(d: WebhookDelivery, e: WebhookEvent) -> dict[str, Any]:
    return {
        "id": d.id,
        "event_id": e.id,
        "type": e.type,
        "state": d.state,
        "attempts": d.attempts,
        "last_status": d.last_status,
        "latency_ms": d.latency_ms,
        "last_error": d.last_error,
        "created_at": iso(d.created_at),
        "last_attempt_at": d.last_attempt_at and iso(d.last_attempt_at),
        "next_attempt_at": iso(d.next_attempt_at) if d.state == DeliveryState.PENDING else None,
        "delivered_at": d.delivered_at and iso(d.delivered_at),
    }


def replay(
    s: Session,
    sub_id: int,
    *,
    now: datetime,
    actor: Actor,
    delivery_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> int:
    """Send again one delivery, or every delivery of events in [since, until): pending at once,
    with a fresh set of attempts and the same event id. Returns how many were re-queued."""
    get(s, sub_id)
    if (delivery_id is None) == (since is None and until is None):
        raise Refused("replay one delivery (delivery_id) or a time range (since, until)")
    where: list[Any] = [WebhookDelivery.subscription_id == sub_id]
    if delivery_id is not None:
        where.append(WebhookDelivery.id == delivery_id)
    else:
        if since is not None and until is not None and since >= until:
            raise Refused("since: before until")
        events = select(WebhookEvent.id)
        if since is not None:
            events = events.where(WebhookEvent.at >= since)
        if until is not None:
            events = events.where(WebhookEvent.at < until)
        where.append(WebhookDelivery.event_id.in_(events))
    # A delivery being sent right now is left alone (its result is about to be written).
    where.append(WebhookDelivery.state != DeliveryState.SENDING)
    ids = list(s.scalars(select(WebhookDelivery.id).where(*where).order_by(WebhookDelivery.id)))[
        :MAX_REPLAY
    ]
    if delivery_id is not None and not ids:
        raise LookupError(f"no delivery {delivery_id} of webhook {sub_id} to replay")
    requeue(s, ids, now)
    _audit(s, now, actor, "webhook.replay", get(s, sub_id), deliveries=len(ids))
    return len(ids)


def requeue(s: Session, ids: Iterable[int], now: datetime) -> None:
    s.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(list(ids)))
        .values(
            state=DeliveryState.PENDING,
            attempts=0,
            next_attempt_at=now,
            lease_until=None,
            delivered_at=None,
        )
    )


def _audit(
    s: Session, now: datetime, actor: Actor, action: str, sub: WebhookSubscription, **detail: Any
) -> None:
    audit.record(
        s,
        at=now,
        actor=actor.name,
        action=action,
        target=f"webhook:{sub.id}",
        source=actor.source,
        **detail,
    )

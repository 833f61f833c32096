"""Outbound webhooks' outbox (issue 21): `emit` writes an event and its deliveries in the
caller's transaction, so an event exists iff the change it announces committed; the worker
(`scheduler.webhooks`) signs and sends them after.

It lives in bot.storage so that every layer (inbound answers, staff cases, privacy's erasure)
can call it. Payloads hold ids and scores, never a customer's name or address; the one text is
the comment of `response.completed` (what the business asked for). `contact.erased` carries
only the contact's external id. The erasure forgets the contact's earlier events first (their
payloads may hold a comment), then announces it:

    forget_contact(s, c.id)
    emit(s, at=now, kind="contact.erased", data={"external_id": c.external_id}, contact_id=c.id)
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeAlias, cast

from sqlalchemy import Connection, Table, delete, exists, select
from sqlalchemy.orm import Session

from bot.storage.models import (
    Contact,
    DeliveryState,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)

EVENT_TYPES = (
    "response.scored",  # a score stored or corrected
    "response.completed",  # the survey is over: score, and the comment if any
    "case.opened",  # a case for staff (or one reopened)
    "case.resolved",
    "contact.opted_out",
    "contact.opted_in",
    "contact.erased",  # the contact's data was erased: only its external id
)
SUBS = cast(Table, WebhookSubscription.__table__)
EVENTS = cast(Table, WebhookEvent.__table__)
DELIVERIES = cast(Table, WebhookDelivery.__table__)
CONTACTS = cast(Table, Contact.__table__)
Data: TypeAlias = Mapping[str, Any] | Callable[[Connection], Mapping[str, Any]]


def new_event_id() -> str:
    return "evt_" + secrets.token_hex(12)


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def emit(
    s: Session | Connection,
    *,
    at: datetime,
    kind: str,
    data: Data,
    contact_id: int | None = None,
) -> str | None:
    """Add the event `kind` and a pending delivery per enabled subscription to it, in `s`'s
    transaction; its id, or None when nobody listens (then nothing is written).

    `data` may be a function of the connection, called only when someone listens (a lookup the
    hot path should not pay for). With `contact_id`, the contact's external id is added (and
    the contact's events are delivered in order)."""
    if kind not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event {kind!r}")
    conn = s.connection() if isinstance(s, Session) else s
    subs = conn.execute(select(SUBS.c.id, SUBS.c.event_types).where(SUBS.c.disabled_at.is_(None)))
    targets = [sid for sid, types in subs if kind in (types or ())]
    if not targets:
        return None
    payload = dict(data(conn) if callable(data) else data)
    if contact_id is not None and "external_id" not in payload:
        payload["external_id"] = conn.scalar(
            select(CONTACTS.c.external_id).where(CONTACTS.c.id == contact_id)
        )
    event_id = new_event_id()
    conn.execute(
        EVENTS.insert().values(
            id=event_id, type=kind, at=at, contact_key=contact_id, payload=payload
        )
    )
    conn.execute(
        DELIVERIES.insert(),
        [
            {
                "subscription_id": sid,
                "event_id": event_id,
                "contact_key": contact_id,
                "state": DeliveryState.PENDING,
                "attempts": 0,
                "next_attempt_at": at,
                "created_at": at,
            }
            for sid in targets
        ],
    )
    return event_id


def body(event_id: str, kind: str, at: datetime, payload: Mapping[str, Any]) -> str:
    """The request body, the same bytes on every attempt (the spec's envelope: type, timestamp,
    data; https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md)."""
    envelope = {"type": kind, "timestamp": iso(at), "data": {"event_id": event_id, **payload}}
    return json.dumps(envelope, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def prune_deliveries(s: Session, before: datetime, limit: int) -> int:
    """Delete up to `limit` finished deliveries (delivered or failed) created before `before`,
    then the events left without any; returns the deliveries deleted (for retention)."""
    done = (DeliveryState.DELIVERED, DeliveryState.FAILED)
    ids = list(
        s.scalars(
            select(WebhookDelivery.id)
            .where(WebhookDelivery.created_at < before, WebhookDelivery.state.in_(done))
            .order_by(WebhookDelivery.id)
            .limit(limit)
        )
    )
    if not ids:
        return 0
    s.execute(delete(WebhookDelivery).where(WebhookDelivery.id.in_(ids)))
    drop_orphan_events(s, before)
    return len(ids)


def drop_orphan_events(s: Session, before: datetime) -> None:
    """Delete the events before `before` that no delivery refers to any more."""
    orphan = ~exists().where(WebhookDelivery.event_id == WebhookEvent.id)
    s.execute(delete(WebhookEvent).where(WebhookEvent.at < before, orphan))


def forget_contact(s: Session, contact_id: int) -> int:
    """Delete the contact's events and their deliveries, sent or not (for an erasure: a comment
    must not leave after it); returns the events deleted."""
    theirs = select(WebhookEvent.id).where(WebhookEvent.contact_key == contact_id)
    s.execute(delete(WebhookDelivery).where(WebhookDelivery.event_id.in_(theirs)))
    result = s.execute(delete(WebhookEvent).where(WebhookEvent.contact_key == contact_id))
    return int(getattr(result, "rowcount", 0) or 0)

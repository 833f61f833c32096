"""Purchases in, invitations out: the one function the API, the CSV import and the sandbox call.

Over 400 lines: a purchase's validation and its registration are one contract (the same
fields, the same errors), kept together so the three callers cannot drift apart.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.runtime import Runtime
from bot.storage.models import Contact, Invitation, InvitationState, Survey
from bot.survey.contacts import address_for, sandbox_channel
from bot.survey.customers import Customer, parse_customer, upsert_contact
from bot.survey.fields import Invalid, check_json, moment, text
from bot.survey.rules import (
    History,
    contact_zone,
    due_at,
    load_history,
    needs_consent,
    skip_reason,
    timing,
)
from channels import registry
from channels.base import DeepLinking

LINK_TTL = timedelta(days=14)
MAX_ORDER_ID = 128  # invitations.order_id is VARCHAR(128)


class Conflict(ValueError):
    """The same order_id came before with a different body."""


@dataclass(frozen=True)
class Purchase:
    order_id: str
    customer: Customer
    survey: str | None = None
    occurred_at: datetime | None = None
    delay_minutes: int | None = None
    channels: tuple[str, ...] | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    quiet_hours: bool | None = None  # None: the channels' rule (`rules.timing`)
    digest: str = ""  # of the request body: the same order with another body is a conflict


@dataclass(frozen=True)
class Outcome:
    invitation: Invitation
    created: bool
    telegram_link: str | None = None
    sandbox_address: str | None = None  # where /sandbox?address=… shows this survey


def parse_purchase(data: Any, *, country: str = "MX") -> Purchase:
    """Validate a purchase request body (API JSON or a CSV row turned into the same shape)."""
    if not isinstance(data, dict):
        raise Invalid("body", "must be a JSON object")
    unknown = set(data) - {
        "order_id",
        "survey",
        "occurred_at",
        "delay_minutes",
        "customer",
        "channels",
        "metadata",
    }
    if unknown:
        raise Invalid(sorted(unknown)[0], "unknown field")
    order_id = text(data, "order_id", "order_id", MAX_ORDER_ID, required=True)
    assert order_id is not None
    customer = parse_customer(data.get("customer"), country=country)
    occurred = None
    if data.get("occurred_at") is not None:
        occurred = moment(data["occurred_at"], "occurred_at")
    delay = data.get("delay_minutes")
    if delay is not None and (
        isinstance(delay, bool) or not isinstance(delay, int) or not 0 <= delay <= 60 * 24 * 90
    ):
        raise Invalid("delay_minutes", "must be a whole number of minutes from 0 to 129600")
    channels = data.get("channels")
    if channels is not None:
        if (
            not isinstance(channels, list)
            or not channels
            or not all(isinstance(c, str) for c in channels)
        ):
            raise Invalid("channels", "must be a non-empty list of channel names")
        channels = tuple(dict.fromkeys(channels))
    meta = data.get("metadata") or {}
    if not isinstance(meta, dict):
        raise Invalid("metadata", "must be an object")
    check_json(meta, "metadata")
    if len(json.dumps(meta)) > 4096:
        raise Invalid("metadata", "must be at most 4 KB of JSON")
    survey = text(data, "survey", "survey", 64)
    on_page = any(registry.capabilities(c).sandbox for c in channels or ())
    if not customer.named() and not on_page:  # a sandbox purchase makes an address
        raise Invalid("customer", "needs a phone, a telegram_chat_id, a sandbox or an id")
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
    return Purchase(
        order_id=order_id,
        customer=customer,
        survey=survey,
        occurred_at=occurred,
        delay_minutes=delay,
        channels=channels,
        metadata=meta,
        digest=digest,
    )


def survey_by_key(s: Session, key: str) -> Survey | None:
    return s.scalar(select(Survey).where(Survey.key == key))


def register_purchase(rt: Runtime, p: Purchase) -> Outcome:
    """Schedule (or skip, with a reason) the survey for one purchase. Idempotent on order_id."""
    try:
        return _register(rt, p)
    except IntegrityError:
        # The same order arrived twice at once: the other request won; answer as it did.
        return _register(rt, p)


def _register(rt: Runtime, p: Purchase) -> Outcome:
    now = rt.clock()
    with rt.db.session_for_update() as s:
        existing = s.scalar(select(Invitation).where(Invitation.order_id == p.order_id))
        if existing is not None:
            if existing.request_hash != p.digest:
                raise Conflict(f"order {p.order_id!r} was registered before with a different body")
            # The link is made after the commit (it may ask the provider).
            inv, created = existing, False
        else:
            inv, created = _schedule(rt, s, p, now), True
        box = (
            sandbox_channel(s, inv.contact_id)
            # An erased customer's order stays idempotent: the invitation, no address.
            if inv.contact_id is not None
            and any(registry.capabilities(c).sandbox for c in inv.channels)
            else None
        )
    if created and inv.state == InvitationState.SCHEDULED and inv.due_at <= now:
        rt.wake.set()
    return Outcome(inv, created, deep_link(rt, inv), box)


def _schedule(rt: Runtime, s: Session, p: Purchase, now: datetime) -> Invitation:
    """A new invitation for the purchase: its channels, due time and the skip rules."""
    key = p.survey or rt.surveys[0].key
    survey = survey_by_key(s, key)
    if survey is None:
        raise Invalid("survey", f"unknown survey {key!r}")
    channels = _channels(rt, survey, p)
    contact, _new = upsert_contact(s, p.customer, now, rt.settings.default_language)
    if any(registry.capabilities(c).sandbox for c in channels):
        # A sandbox customer is reached on the page: the given address, the known one, or a new one.
        try:
            sandbox_channel(s, contact.id, p.customer.sandbox, create=True)
        except ValueError as exc:
            raise Invalid("customer.sandbox", str(exc)) from exc
    _reachable(rt, contact, channels)
    inv = new_invitation(
        rt,
        s,
        survey,
        contact,
        channels,
        now,
        order_id=p.order_id,
        digest=p.digest,
        occurred=p.occurred_at,
        delay=p.delay_minutes,
        quiet=p.quiet_hours,
        meta=p.metadata,
    )
    s.flush()  # its id, and a duplicate order's IntegrityError, now
    return inv


def new_invitation(
    rt: Runtime,
    s: Session,
    survey: Survey,
    contact: Contact,
    channels: Sequence[str],
    now: datetime,
    *,
    order_id: str | None = None,
    digest: str | None = None,
    occurred: datetime | None = None,
    delay: int | None = None,
    quiet: bool | None = None,
    meta: Mapping[str, Any] | None = None,
    history: History | None = None,
) -> Invitation:
    """The one way a survey invitation is made, for a purchase or a relational program's day:
    its due time (delay, quiet hours in the customer's zone), the skip rules (open invitation,
    resurvey window, fatigue, opt-outs) and, where a bot cannot write first, a deep link.
    Added to the session, not flushed (a program's day inserts its invitations at once).
    `history`: the contact's, read by the caller after it locked the contact's row (a program's
    day reads its contacts' in a batch, `rules.load_histories`); else locked and read here."""
    if history is None and rt.db.postgres:
        # One invitation at a time per contact: the rules below read, then decide.
        s.execute(select(Contact.id).where(Contact.id == contact.id).with_for_update())
    occurred = occurred or now
    wait, hours = timing(survey.delay_minutes, survey.options, channels, delay=delay, quiet=quiet)
    inv = Invitation(
        survey=survey,
        contact=contact,
        order_id=order_id,
        request_hash=digest,
        state=InvitationState.SCHEDULED,
        language=contact.language,
        channels=list(channels),
        occurred_at=occurred,
        due_at=due_at(occurred, wait, now, contact_zone(contact), hours),
        meta=dict(meta or {}),
        created_at=now,
    )
    required = needs_consent(survey.options)
    if history is None:
        history = load_history(s, contact.id, consent=bool(required))
    fatigue = rt.settings.contact_fatigue_days
    reason = skip_reason(history, channels, survey.resurvey_days, now, fatigue, required)
    if reason is not None:
        inv.state, inv.skip_reason = InvitationState.SKIPPED, reason
    elif any(_needs_link(rt, contact, c) for c in channels):
        # A bot cannot write first: the order confirmation carries a deep link instead.
        inv.link_token = secrets.token_urlsafe(24)
        inv.link_expires_at = now + LINK_TTL
    s.add(inv)
    return inv


def _needs_link(rt: Runtime, contact: Contact, channel: str) -> bool:
    """The channel cannot write first and the contact has no chat on it yet."""
    caps = registry.capabilities(channel)
    return caps.needs_deep_link and channel in rt.channels and not address_for(contact, channel)


def _channels(rt: Runtime, survey: Survey, p: Purchase) -> tuple[str, ...]:
    if p.channels is not None:
        for i, name in enumerate(p.channels):
            if name not in rt.channels:
                raise Invalid(f"channels[{i}]", f"channel {name!r} is not configured")
        return p.channels
    configured = tuple(
        c for c in survey.channels if c in rt.channels and not registry.capabilities(c).sandbox
    )
    if not configured:
        hint = (
            '; try channels: ["sandbox"]' if registry.named(sandbox=True)[0] in rt.channels else ""
        )
        raise Invalid("channels", f"none of survey {survey.key!r}'s channels is configured{hint}")
    return configured


def _reachable(rt: Runtime, contact: Contact, channels: Sequence[str]) -> None:
    if contact.email and not (contact.phone or contact.telegram_chat_id):
        return  # stored, and the rules skip its invitation: `no_chat_address`
    for name in channels:
        caps = registry.capabilities(name)
        if caps.phone_address and contact.phone:
            return
        if caps.needs_deep_link or caps.sandbox or caps.page:
            return  # a known chat, a deep link, the sandbox page, or the survey page
    idle = [n for n in registry.named() if n not in rt.channels and address_for(contact, n)]
    if idle:  # the only address is on a channel with no settings here (a chat, no Telegram)
        raise Invalid("channels", f"{registry.capabilities(idle[0]).label} is not configured")
    raise Invalid("customer.phone", "the customer has no address on any of the channels")


def deep_link(rt: Runtime, inv: Invitation) -> str | None:
    """The link that starts the survey's chat, for a channel where the business cannot write
    first. It may ask the provider: never call it inside a transaction."""
    if inv.link_token is None:
        return None
    for name in inv.channels:
        if registry.capabilities(name).needs_deep_link and name in rt.channels:
            return cast(DeepLinking, rt.channels[name]).deep_link(inv.link_token)
    return None


def create_invitation(
    s: Session,
    survey: Survey,
    contact: Contact,
    *,
    now: datetime,
    order_id: str | None = None,
    occurred_at: datetime | None = None,
    delay_minutes: int | None = None,
    channels: Sequence[str] | None = None,
    meta: Mapping[str, Any] | None = None,
) -> Invitation:
    """An invitation without the rules (the sandbox and tests)."""
    occurred = occurred_at or now
    delay = survey.delay_minutes if delay_minutes is None else delay_minutes
    due = due_at(occurred, timedelta(minutes=delay), now, contact_zone(contact))
    inv = Invitation(
        survey=survey,
        contact=contact,
        order_id=order_id,
        state=InvitationState.SCHEDULED,
        language=contact.language,
        channels=list(channels or survey.channels),
        occurred_at=occurred,
        due_at=due,  # no quiet hours: the dispatcher defers at send time
        meta=dict(meta or {}),
        created_at=now,
    )
    s.add(inv)
    s.flush()  # its id, for the sandbox and the tests that name it
    return inv


def mark_delivered(rt: Runtime, order_id: str, delivered_at: datetime) -> Invitation:
    """The order reached the customer: a still-scheduled survey counts its delay from now."""
    now = rt.clock()
    with rt.db.session_for_update() as s:
        inv = s.scalar(select(Invitation).where(Invitation.order_id == order_id))
        if inv is None:
            raise LookupError(order_id)
        if inv.state == InvitationState.SCHEDULED:
            delay, quiet = timing(inv.survey.delay_minutes, inv.survey.options, inv.channels)
            inv.due_at = due_at(delivered_at, delay, now, contact_zone(inv.contact), quiet)
            inv.meta = {**inv.meta, "delivered_at": delivered_at.isoformat()}
        return inv

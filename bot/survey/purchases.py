"""Purchases in, invitations out: the one function the API, the CSV import and the sandbox call.

Over 400 lines: a purchase's validation and its registration are one contract (the same
fields, the same errors), kept together so the three callers cannot drift apart.
"""

from __future__ import annotations

import hashlib
import json
import math
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.config import LANGUAGES
from bot.runtime import Runtime
from bot.storage.db import refused_text
from bot.storage.models import Contact, Invitation, InvitationState, Survey
from bot.survey.contacts import address_for, normalise_phone, sandbox_address, sandbox_channel
from bot.survey.rules import (
    contact_zone,
    due_at,
    load_history,
    skip_reason,
    timing,
    zone,
)
from channels import registry
from channels.base import DeepLinking

LINK_TTL = timedelta(days=14)
MAX_ORDER_ID = 128  # invitations.order_id is VARCHAR(128)


class Invalid(ValueError):
    """A request field is wrong: answered 422 naming the field (or a CLI line naming it)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


class Conflict(ValueError):
    """The same order_id came before with a different body."""


@dataclass(frozen=True)
class Customer:
    id: str | None = None
    name: str | None = None
    phone: str | None = None
    telegram_chat_id: str | None = None
    language: str | None = None
    timezone: str | None = None
    sandbox: str | None = None  # an address on the sandbox page, "sandbox-…"


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


def _str(
    data: Mapping[str, Any], key: str, where: str, limit: int, required: bool = False
) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise Invalid(where, "is required")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise Invalid(where, "must be a string")
    text = str(value).strip()
    if (refused := refused_text(text)) is not None:
        raise Invalid(where, refused)
    if len(text) > limit:
        raise Invalid(where, f"must be at most {limit} characters")
    return text


def parse_moment(raw: Any, where: str) -> datetime:
    """An RFC 3339 date-time with an offset, in UTC, within years 1900-2999 (a survey's due
    time is computed from it: nothing near Python's year 1 or 9999)."""
    try:
        moment = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
        utc = moment.astimezone(UTC) if moment.tzinfo is not None else None
    except (ValueError, OverflowError):
        raise Invalid(where, "must be an RFC 3339 date-time") from None
    if utc is None:
        raise Invalid(where, "must include a time zone offset (or Z)")
    if not 1900 <= utc.year <= 2999:
        raise Invalid(where, "must be a date between 1900 and 2999")
    return utc


def _check_json(value: Any, where: str, depth: int = 0) -> None:
    """Metadata the databases store as JSON: finite numbers, storable text, 8 levels at most."""
    if depth > 8:
        raise Invalid(where, "must be nested at most 8 levels deep")
    if isinstance(value, float) and not math.isfinite(value):
        raise Invalid(where, "numbers must be finite (no NaN or Infinity)")
    if isinstance(value, str) and (refused := refused_text(value)) is not None:
        raise Invalid(where, refused)
    if isinstance(value, dict):
        value = [*value, *value.values()]  # keys are text the database stores too
    for item in value if isinstance(value, list) else ():
        _check_json(item, where, depth + 1)


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
    order_id = _str(data, "order_id", "order_id", MAX_ORDER_ID, required=True)
    assert order_id is not None
    cust = data.get("customer")
    if not isinstance(cust, dict):
        raise Invalid("customer", "is required and must be an object")
    phone = _str(cust, "phone", "customer.phone", 32)
    if phone is not None:
        try:
            phone = normalise_phone(phone, country)
        except ValueError as exc:
            raise Invalid("customer.phone", str(exc)) from exc
    chat = _str(cust, "telegram_chat_id", "customer.telegram_chat_id", 32)
    if chat is not None and not (chat.isascii() and chat.lstrip("-").isdigit()):
        raise Invalid("customer.telegram_chat_id", "must be a numeric Telegram chat id")
    language = _str(cust, "language", "customer.language", 8)
    if language is not None:
        language = language[:2].lower()
        if language not in LANGUAGES:
            raise Invalid("customer.language", f"must be one of {', '.join(LANGUAGES)}")
    box = _str(cust, "sandbox", "customer.sandbox", 64)
    if box is not None:
        try:
            box = sandbox_address(box)
        except ValueError as exc:
            raise Invalid("customer.sandbox", str(exc)) from exc
    tz = _str(cust, "timezone", "customer.timezone", 64)
    if tz is not None and zone(tz) is None:
        raise Invalid("customer.timezone", f"unknown IANA time zone {tz!r}")
    occurred = None
    if data.get("occurred_at") is not None:
        occurred = parse_moment(data["occurred_at"], "occurred_at")
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
    _check_json(meta, "metadata")
    if len(json.dumps(meta)) > 4096:
        raise Invalid("metadata", "must be at most 4 KB of JSON")
    survey = _str(data, "survey", "survey", 64)
    named = (phone, chat, box, _str(cust, "id", "customer.id", 128))
    on_page = any(registry.capabilities(c).sandbox for c in channels or ())
    if all(v is None for v in named) and not on_page:  # a sandbox purchase makes an address
        raise Invalid("customer", "needs a phone, a telegram_chat_id, a sandbox or an id")
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
    return Purchase(
        order_id=order_id,
        customer=Customer(
            id=_str(cust, "id", "customer.id", 128),
            name=_str(cust, "name", "customer.name", 200),
            phone=phone,
            telegram_chat_id=chat,
            language=language,
            timezone=tz,
            sandbox=box,
        ),
        survey=survey,
        occurred_at=occurred,
        delay_minutes=delay,
        channels=channels,
        metadata=meta,
        digest=digest,
    )


def survey_by_key(s: Session, key: str) -> Survey | None:
    return s.scalar(select(Survey).where(Survey.key == key))


def _contact(rt: Runtime, s: Session, c: Customer, now: datetime) -> Contact:
    found = None
    if c.id is not None:
        found = s.scalar(select(Contact).where(Contact.external_id == c.id))
    if found is None and c.phone is not None:
        found = s.scalar(select(Contact).where(Contact.phone == c.phone).order_by(Contact.id))
    if found is None and c.telegram_chat_id is not None:
        found = s.scalar(select(Contact).where(Contact.telegram_chat_id == c.telegram_chat_id))
    if found is None:
        found = Contact(language=c.language or rt.settings.default_language, created_at=now)
        s.add(found)
    # The business's latest word wins for what it sends.
    for attr in ("name", "phone", "telegram_chat_id", "language", "timezone"):
        value = getattr(c, attr)
        if value is not None:
            setattr(found, attr, value)
    if c.id is not None and found.external_id is None:
        found.external_id = c.id
    s.flush()
    return found


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
            if any(registry.capabilities(c).sandbox for c in inv.channels)
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
    contact = _contact(rt, s, p.customer, now)
    if any(registry.capabilities(c).sandbox for c in channels):
        # A sandbox customer is reached on the page: the given address, the known one, or a new one.
        try:
            sandbox_channel(s, contact.id, p.customer.sandbox, create=True)
        except ValueError as exc:
            raise Invalid("customer.sandbox", str(exc)) from exc
    _reachable(rt, contact, channels)
    if rt.db.postgres:
        # One purchase at a time per contact: the rules below read, then decide.
        s.execute(select(Contact.id).where(Contact.id == contact.id).with_for_update())
    occurred = p.occurred_at or now
    delay, quiet = timing(
        survey.delay_minutes, survey.options, channels, delay=p.delay_minutes, quiet=p.quiet_hours
    )
    due = due_at(occurred, delay, now, contact_zone(contact), quiet)
    inv = Invitation(
        survey=survey,
        contact=contact,
        order_id=p.order_id,
        request_hash=p.digest,
        state=InvitationState.SCHEDULED,
        language=contact.language,
        channels=list(channels),
        occurred_at=occurred,
        due_at=due,
        meta=dict(p.metadata),
        created_at=now,
    )
    reason = skip_reason(load_history(s, contact.id), channels, survey.resurvey_days, now)
    if reason is not None:
        inv.state, inv.skip_reason = InvitationState.SKIPPED, reason
    elif any(_needs_link(rt, contact, c) for c in channels):
        # A bot cannot write first: the order confirmation carries a deep link instead.
        inv.link_token = secrets.token_urlsafe(24)
        inv.link_expires_at = now + LINK_TTL
    s.add(inv)
    s.flush()
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
    for name in channels:
        caps = registry.capabilities(name)
        if caps.phone_address and contact.phone:
            return
        if caps.needs_deep_link or caps.sandbox:
            return  # a known chat, a deep link for the order confirmation, or the sandbox page
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
    s.flush()
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

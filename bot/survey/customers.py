"""A customer as the business describes them — in a purchase, `PUT /api/v1/contacts/{id}` or a
CSV line — checked once and written once: the contact, their attributes and their consent.

Attributes are merged key by key (a null removes a key), so a business can send only what
changed; consent is history (`Consent` rows), appended only when it changes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.config import LANGUAGES
from bot.storage.models import Consent, Contact, ContactChannel
from bot.survey.consent import Grant, record
from bot.survey.contacts import normalise_phone, sandbox_address
from bot.survey.fields import Invalid, check_json, moment, text
from bot.survey.rules import zone
from channels import registry

FIELDS = (
    "id",
    "name",
    "phone",
    "telegram_chat_id",
    "language",
    "timezone",
    "sandbox",
    "attributes",
    "consent",
)
MAX_ATTRIBUTES = 50
ATTRIBUTE_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
MAX_ATTRIBUTE_TEXT = 500


class Taken(Invalid):
    """The address is another contact's: answered 409."""


@dataclass(frozen=True)
class Customer:
    id: str | None = None
    name: str | None = None
    phone: str | None = None
    telegram_chat_id: str | None = None
    language: str | None = None
    timezone: str | None = None
    sandbox: str | None = None  # an address on the sandbox page, "sandbox-…"
    # Names and finds the contact, never reaches them (set by the Delighted-compatible API).
    email: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)  # None values remove a key
    consent: tuple[tuple[Grant, bool], ...] = ()  # each with: the business's own opt-in

    def named(self) -> bool:
        """Whether anything names the person (a sandbox purchase makes its own address)."""
        return any(
            v is not None
            for v in (self.phone, self.telegram_chat_id, self.sandbox, self.id, self.email)
        )


def at(where: str, key: str) -> str:
    """A field's name in errors: `customer.phone` in a purchase, `phone` in a contact."""
    return f"{where}.{key}" if where else key


def parse_customer(
    data: Any, where: str = "customer", *, country: str = "MX", strict: bool = False
) -> Customer:
    """Check a customer object; `strict` refuses fields it does not know (the contacts API:
    a typo is an error, not silently dropped)."""
    if not isinstance(data, dict):
        raise Invalid(where or "body", "is required and must be an object")
    if strict and (unknown := set(data) - set(FIELDS)):
        raise Invalid(at(where, sorted(unknown)[0]), "unknown field")
    phone = text(data, "phone", at(where, "phone"), 32)
    if phone is not None:
        try:
            phone = normalise_phone(phone, country)
        except ValueError as exc:
            raise Invalid(at(where, "phone"), str(exc)) from exc
    chat = text(data, "telegram_chat_id", at(where, "telegram_chat_id"), 32)
    if chat is not None and not (chat.isascii() and chat.lstrip("-").isdigit()):
        raise Invalid(at(where, "telegram_chat_id"), "must be a numeric Telegram chat id")
    language = text(data, "language", at(where, "language"), 8)
    if language is not None:
        language = language[:2].lower()
        if language not in LANGUAGES:
            raise Invalid(at(where, "language"), f"must be one of {', '.join(LANGUAGES)}")
    box = text(data, "sandbox", at(where, "sandbox"), 64)
    if box is not None:
        try:
            box = sandbox_address(box)
        except ValueError as exc:
            raise Invalid(at(where, "sandbox"), str(exc)) from exc
    tz = text(data, "timezone", at(where, "timezone"), 64)
    if tz is not None and zone(tz) is None:
        raise Invalid(at(where, "timezone"), f"unknown IANA time zone {tz!r}")
    return Customer(
        id=text(data, "id", at(where, "id"), 128),
        name=text(data, "name", at(where, "name"), 200),
        phone=phone,
        telegram_chat_id=chat,
        language=language,
        timezone=tz,
        sandbox=box,
        attributes=parse_attributes(data.get("attributes"), at(where, "attributes")),
        consent=parse_consent(data.get("consent"), at(where, "consent")),
    )


def parse_attributes(raw: Any, where: str) -> dict[str, Any]:
    """Flat key/values: text, numbers, true/false; null removes the key."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise Invalid(where, "must be an object of flat key/values")
    if len(raw) > MAX_ATTRIBUTES:
        raise Invalid(where, f"at most {MAX_ATTRIBUTES} attributes")
    for key, value in raw.items():
        if not ATTRIBUTE_KEY.fullmatch(key):
            raise Invalid(where, f"{key[:70]!r} is not a key: letters, digits, _ . - (64 at most)")
        if isinstance(value, dict | list):
            raise Invalid(at(where, key), "must be text, a number, true/false or null")
        if isinstance(value, str) and len(value) > MAX_ATTRIBUTE_TEXT:
            raise Invalid(at(where, key), f"must be at most {MAX_ATTRIBUTE_TEXT} characters")
        check_json(value, at(where, key))
    return dict(raw)


def parse_consent(raw: Any, where: str) -> tuple[tuple[Grant, bool], ...]:
    """`{"whatsapp": {"given": true, "source": "checkout form", "at": "2026-11-30T10:00:00Z"}}`;
    `given` defaults to true and `at` to now; `"method": "business"` marks the business's own
    opt-in (its own form or register), recorded as such rather than as the API's."""
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise Invalid(where, "must be an object: channel → {given, source, at}")
    grants = []
    for channel, value in raw.items():
        here = at(where, channel)
        if channel not in registry.CAPABILITIES:
            raise Invalid(
                here, f"no channel {channel[:40]!r}: one of {', '.join(registry.CAPABILITIES)}"
            )
        if isinstance(value, bool):
            value = {"given": value}
        if not isinstance(value, dict) or set(value) - {"given", "source", "at", "method"}:
            raise Invalid(here, "must be {given, source, at, method} (or true/false)")
        if value.get("method", "api") not in ("api", "business"):
            raise Invalid(f"{here}.method", "must be api or business")
        given = value.get("given", True)
        if not isinstance(given, bool):
            raise Invalid(f"{here}.given", "must be true or false")
        when = moment(value["at"], f"{here}.at") if value.get("at") is not None else None
        grant = Grant(channel, given, text(value, "source", f"{here}.source", 200), when)
        grants.append((grant, value.get("method") == "business"))
    return tuple(grants)


def find_contact(s: Session, c: Customer) -> Contact | None:
    """The contact the business means: by its id, else the phone, else the Telegram chat,
    else the e-mail."""
    found = None
    if c.id is not None:
        found = s.scalar(select(Contact).where(Contact.external_id == c.id))
    if found is None and c.phone is not None:
        found = s.scalar(select(Contact).where(Contact.phone == c.phone).order_by(Contact.id))
    if found is None and c.telegram_chat_id is not None:
        found = s.scalar(select(Contact).where(Contact.telegram_chat_id == c.telegram_chat_id))
    if found is None and c.email is not None:
        found = s.scalar(select(Contact).where(Contact.email == c.email).order_by(Contact.id))
    return found


def upsert_contact(
    s: Session,
    c: Customer,
    now: datetime,
    default_language: str,
    method: str = "api",
    where: str = "customer",
    by_id_only: bool = False,
) -> tuple[Contact, bool]:
    """The contact, created or brought up to date (the business's latest word wins for what it
    sends), and whether it was created. Inside the caller's writing transaction. A purchase
    finds its customer by id, phone or chat (`find_contact`); the contacts API, which names the
    contact in its URL, `by_id_only`."""
    if by_id_only and c.id is not None:
        found = s.scalar(select(Contact).where(Contact.external_id == c.id))
    else:
        found = find_contact(s, c)
    created = found is None
    if found is None:
        found = Contact(language=c.language or default_language, created_at=now, attributes={})
        s.add(found)
    if c.telegram_chat_id is not None and c.telegram_chat_id != found.telegram_chat_id:
        holder = s.scalar(select(Contact.id).where(Contact.telegram_chat_id == c.telegram_chat_id))
        if holder is not None and holder != found.id:
            raise Taken(at(where, "telegram_chat_id"), "belongs to another contact")
    for attr in ("name", "phone", "telegram_chat_id", "language", "timezone", "email"):
        value = getattr(c, attr)
        if value is not None:
            setattr(found, attr, value)
    if c.id is not None and found.external_id is None:
        found.external_id = c.id
    if c.attributes:
        merged = {**(found.attributes or {}), **c.attributes}
        found.attributes = {k: v for k, v in merged.items() if v is not None}
        if len(found.attributes) > MAX_ATTRIBUTES:
            raise Invalid(at(where, "attributes"), f"at most {MAX_ATTRIBUTES} attributes in all")
    s.flush()
    for grant, business in c.consent:
        record(s.connection(), found.id, grant, "business" if business else method, now)
    return found, created


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def contact_json(s: Session, contact: Contact) -> dict[str, Any]:
    """What the API answers about a contact."""
    consent: dict[str, Any] = {}
    rows = s.scalars(
        select(Consent).where(Consent.contact_id == contact.id).order_by(Consent.at, Consent.id)
    )
    for row in rows:  # the latest per channel wins
        consent[row.channel] = {
            "given": row.given,
            "source": row.source,
            "method": row.method,
            "at": _iso(row.at),
        }
    channels = s.scalars(
        select(ContactChannel)
        .where(ContactChannel.contact_id == contact.id)
        .order_by(ContactChannel.channel)
    )
    return {
        "id": contact.external_id,
        "name": contact.name,
        "phone": contact.phone,
        "telegram_chat_id": contact.telegram_chat_id,
        "language": contact.language,
        "timezone": contact.timezone,
        "attributes": dict(sorted((contact.attributes or {}).items())),
        "consent": consent,
        "channels": [
            {
                "channel": cc.channel,
                "address": cc.address,
                "opted_out_at": _iso(cc.opted_out_at),
                "unreachable_at": _iso(cc.unreachable_at),
            }
            for cc in channels
        ],
        "created_at": _iso(contact.created_at),
        "updated_at": _iso(contact.updated_at),
    }

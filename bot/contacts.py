"""Contacts and their per-channel addresses."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import phonenumbers
from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session, contains_eager

from bot.config import LANGUAGES
from bot.models import Contact, ContactChannel, Invitation
from channels.base import Inbound

if TYPE_CHECKING:
    from bot.runtime import Runtime

PHONE_CHANNELS = ("sms", "whatsapp")


def normalise_phone(raw: str, country: str = "MX") -> str:
    """E.164 for a valid phone number; ValueError naming what is wrong otherwise."""
    try:
        number = phonenumbers.parse(raw, None if raw.strip().startswith("+") else country)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {raw!r}") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"not a valid phone number: {raw!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_country(e164: str) -> str | None:
    """ISO country of a phone number (used for a time zone when the business gives none)."""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(e164, None)) or None
    except phonenumbers.NumberParseException:
        return None


def address_for(contact: Contact, channel: str) -> str | None:
    if channel in PHONE_CHANNELS:
        return contact.phone
    if channel == "telegram":
        return contact.telegram_chat_id
    return None


def ensure_channel(s: Session, contact: Contact, channel: str, address: str) -> ContactChannel:
    cc = s.scalar(
        select(ContactChannel).where(
            ContactChannel.contact_id == contact.id, ContactChannel.channel == channel
        )
    )
    if cc is None:
        cc = ContactChannel(contact=contact, channel=channel, address=address)
        s.add(cc)
        s.flush()
    elif cc.address != address:
        cc.address = address
    return cc


def _find_stmt(lock: bool) -> Select[ContactChannel]:
    stmt = (
        select(ContactChannel)
        .join(ContactChannel.contact)
        .options(contains_eager(ContactChannel.contact))
        .where(
            ContactChannel.channel == bindparam("channel"),
            ContactChannel.address == bindparam("address"),
        )
    )
    return stmt.with_for_update() if lock else stmt


# Built once: constructing a statement per webhook cost more than running it.
_FIND = {False: _find_stmt(False), True: _find_stmt(True)}


def find_for_inbound(rt: Runtime, s: Session, m: Inbound) -> ContactChannel | None:
    """The sender's channel row with its contact, in one query; on PostgreSQL both rows are
    locked, so a customer's second message waits for the first one's transaction."""
    return s.scalar(_FIND[rt.db.postgres], {"channel": m.channel, "address": m.sender})


def create_for_inbound(rt: Runtime, s: Session, m: Inbound, now: datetime) -> ContactChannel:
    """A channel row for a sender seen for the first time: an existing contact (same phone, or
    the Telegram deep link's) or a new one."""
    contact = None
    if m.start_payload:
        # Telegram onboarding: the deep link names the invitation, and so the contact.
        inv = s.scalar(select(Invitation).where(Invitation.link_token == m.start_payload))
        if inv is not None:
            contact = inv.contact
            contact.telegram_chat_id = m.sender
    if contact is None and m.channel in PHONE_CHANNELS and m.sender.startswith("+"):
        contact = s.scalar(select(Contact).where(Contact.phone == m.sender).order_by(Contact.id))
    if contact is None:
        hint = (m.language_hint or "")[:2].lower()
        contact = Contact(
            name=m.sender_name,
            phone=m.sender if m.channel in PHONE_CHANNELS and m.sender.startswith("+") else None,
            telegram_chat_id=m.sender if m.channel == "telegram" else None,
            language=hint if hint in LANGUAGES else rt.settings.default_language,
            created_at=now,
        )
        s.add(contact)
        s.flush()
    elif rt.db.postgres:
        s.execute(select(Contact.id).where(Contact.id == contact.id).with_for_update())
    return ensure_channel(s, contact, m.channel, m.sender)

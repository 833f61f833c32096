"""Contacts and their per-channel addresses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast

import phonenumbers
from sqlalchemy import Connection, Table, bindparam, exists, select, update
from sqlalchemy.orm import Session

from bot.config import LANGUAGES
from bot.runtime import Runtime
from bot.storage.messages import column_length
from bot.storage.models import (
    OPEN_STATES,
    Case,
    CaseStatus,
    Contact,
    ContactChannel,
    Invitation,
)
from bot.storage.models import InvitationState as S
from channels import registry
from channels.base import Inbound
from channels.sandbox import check_address, new_address
from channels.web import address as web_address

# The test channel played in the browser (/sandbox).
(SANDBOX,) = registry.named(sandbox=True)
# Channels whose address is the customer's phone number.
PHONE_CHANNELS = registry.named(phone_address=True)
# Channels a customer opens with a deep link: their chat id is `Contact.telegram_chat_id`.
CHAT_CHANNELS = registry.named(needs_deep_link=True)
# npsbot's own survey page: every contact is reachable there, at their invitation's URL.
PAGE_CHANNELS = registry.named(page=True)
# The columns a contact keeps a first message's address in: an address that does not fit
# cannot name a customer (its message is stored without a contact).
PHONE_MAX = column_length(cast(Table, Contact.__table__), "phone")
CHAT_ID_MAX = column_length(cast(Table, Contact.__table__), "telegram_chat_id")
ADDRESS_MAX = column_length(cast(Table, ContactChannel.__table__), "address")
CLOSED_STATES = (S.COMPLETED, S.EXPIRED, S.UNANSWERED)
# Invitations an inbound message can act on: an open one, or a closed one it may add to.
INBOUND_STATES = (*OPEN_STATES, *CLOSED_STATES)


def normalise_phone(raw: str, country: str = "MX") -> str:
    """E.164 for a valid phone number; ValueError naming what is wrong otherwise. A Mexican
    mobile in the pre-2019 form +52 1 … is written +52 … as WhatsApp/Twilio send it."""
    try:
        number = phonenumbers.parse(raw, None if raw.strip().startswith("+") else country)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {raw!r}") from exc
    national = str(number.national_number)
    if number.country_code == 52 and len(national) == 11 and national.startswith("1"):
        # Mexico dropped the mobile "1" in 2019 (WhatsApp/Twilio send +52 …):
        # https://en.wikipedia.org/wiki/Telephone_numbers_in_Mexico
        number.national_number = int(national[1:])
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"not a valid phone number: {raw!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def sandbox_address(raw: str) -> str:
    """A sandbox address from a purchase (`customer.sandbox`); ValueError naming the problem."""
    return check_address(raw)


def sandbox_channel(
    s: Session, contact_id: int, address: str | None = None, *, create: bool = False
) -> str | None:
    """The contact's address on the sandbox page: `address` if given (it moves there), the known
    one, or (with `create`) a new one."""
    cc = s.scalar(
        select(ContactChannel).where(
            ContactChannel.contact_id == contact_id, ContactChannel.channel == SANDBOX
        )
    )
    if address is None and cc is not None:
        return cc.address
    if address is None and not create:
        return None
    address = address or new_address()
    taken = s.scalar(
        select(ContactChannel).where(
            ContactChannel.channel == SANDBOX, ContactChannel.address == address
        )
    )
    if taken is not None and taken.contact_id != contact_id:
        raise ValueError(f"sandbox address {address!r} belongs to another customer")
    if cc is None:
        s.add(ContactChannel(contact_id=contact_id, channel=SANDBOX, address=address))
        s.flush()
    elif cc.address != address:
        cc.address = address
    return address


def identifies(m: Inbound) -> bool:
    """Whether the sender's address can name a customer: it fits where a contact keeps it."""
    limit = CHAT_ID_MAX if m.channel in CHAT_CHANNELS else ADDRESS_MAX
    return 0 < len(m.sender) <= limit


def _phone(m: Inbound) -> str | None:
    """The sender's phone number, for a phone channel's address that looks like one."""
    if m.channel in PHONE_CHANNELS and m.sender.startswith("+") and len(m.sender) <= PHONE_MAX:
        try:
            return normalise_phone(m.sender)  # the form the API and the import store
        except ValueError:
            return m.sender
    return None


def address_for(contact: Contact, channel: str) -> str | None:
    return address_on(channel, contact.id, contact.phone, contact.telegram_chat_id)


def address_on(
    channel: str, contact_id: int | None, phone: str | None, chat_id: str | None
) -> str | None:
    """`address_for` from the contact's columns (a program's day reads them, not whole rows)."""
    if channel in PHONE_CHANNELS:
        return phone
    if channel in CHAT_CHANNELS:
        return chat_id
    if channel in PAGE_CHANNELS and contact_id is not None:
        return web_address(contact_id)
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


CHANNELS = cast(Table, ContactChannel.__table__)
CONTACTS = cast(Table, Contact.__table__)
INVITATIONS = cast(Table, Invitation.__table__)
CASES = cast(Table, Case.__table__)

# The sender's channel row and contact, locked for the transaction (on PostgreSQL; SQLite
# renders no FOR UPDATE: the unit's writer lock serialises instead), so a customer's second
# message waits for the first one's. The contact first, then the channel (PostgreSQL locks in
# the order of `OF`): the order an erasure (bot.privacy.erasure) takes them in, so the two never
# deadlock, and a message that waited for an erasure finds no row (then a fresh contact).
# With the context a message needs: whether the contact has
# an invitation it can act on, and an unresolved case (the staff module may relay the message).
_SENDER = (
    select(
        CHANNELS.c.id,
        CHANNELS.c.contact_id,
        CONTACTS.c.language,
        exists()
        .where(
            INVITATIONS.c.contact_id == CHANNELS.c.contact_id,
            INVITATIONS.c.state.in_(INBOUND_STATES),
        )
        .label("surveyed"),
        exists()
        .where(CASES.c.contact_id == CHANNELS.c.contact_id, CASES.c.status != CaseStatus.RESOLVED)
        .label("in_case"),
    )
    .join_from(CHANNELS, CONTACTS, CONTACTS.c.id == CHANNELS.c.contact_id)
    .where(CHANNELS.c.channel == bindparam("channel"), CHANNELS.c.address == bindparam("address"))
    .with_for_update(of=[CONTACTS, CHANNELS])
)
_SEEN = (
    update(CHANNELS)
    .where(CHANNELS.c.id == bindparam("cc"))
    .values(last_inbound_at=bindparam("now", type_=CHANNELS.c.last_inbound_at.type))
)


@dataclass(frozen=True)
class Found:
    """The sender's channel row and contact, and what else the lookup saw: whether the contact
    has an invitation a message can act on, and an unresolved case (True when unknown). Asked
    in the same statement, so a customer who was never surveyed costs no further lookups."""

    cc_id: int
    contact_id: int
    language: str | None
    surveyed: bool = True
    in_case: bool = True


def find_sender(conn: Connection, m: Inbound, now: datetime) -> Found | None:
    """The sender's channel row (locked, and marked seen: `last_inbound_at`) with its context;
    None for a sender never seen on this channel.
    The context's subqueries lock nothing: the rows they look for are only created outside the
    customer's lock (invitations by the dispatcher; a case the webhook creates has no card yet,
    and only a case with a card in a staff chat takes messages)."""
    row = conn.execute(_SENDER, {"channel": m.channel, "address": m.sender}).one_or_none()
    if row is None:
        return None
    conn.execute(_SEEN, {"cc": row.id, "now": now})
    return Found(row.id, row.contact_id, row.language, bool(row.surveyed), bool(row.in_case))


_BY_LINK = select(Invitation).where(Invitation.link_token == bindparam("token"))
_LOCK_CONTACT = select(Contact.id).where(Contact.id == bindparam("id")).with_for_update()


def _held_address(m: Inbound) -> dict[str, str]:
    """The contact column that keeps the sender's address on its channel, with the address as
    kept there: a phone channel's number (E.164), a chat channel's chat id; empty for others."""
    phone = _phone(m)
    if phone is not None:
        return {"phone": phone}
    if m.channel in CHAT_CHANNELS:
        return {"telegram_chat_id": m.sender}
    return {}


def _holder(s: Session, held: dict[str, str]) -> Contact | None:
    """The contact that already holds the address (the API, a purchase or an import gave it):
    the same person, whose first message on this channel makes its channel row."""
    if not held:
        return None
    ((column, address),) = held.items()
    # Phones are not unique (a shared number): the oldest contact, as a purchase finds it.
    where = getattr(Contact, column) == address
    return s.scalar(select(Contact).where(where).order_by(Contact.id).limit(1))


def create_for_inbound(rt: Runtime, s: Session, m: Inbound, now: datetime) -> Found:
    """A channel row for a sender seen for the first time on its channel: the deep link's
    contact, the contact that holds the address (same phone, same chat id), or a new one."""
    contact = None
    if m.start_payload:
        # Deep-link onboarding: the link names the invitation, and so the contact.
        inv = s.scalar(_BY_LINK, {"token": m.start_payload})
        if inv is not None and inv.contact is not None:  # an erased one's has no token left
            contact = inv.contact
            contact.telegram_chat_id = m.sender
    held = _held_address(m)
    if contact is None:
        contact = _holder(s, held)
    if contact is None:
        hint = (m.language_hint or "")[:2].lower()
        contact = Contact(
            name=m.sender_name,
            language=hint if hint in LANGUAGES else rt.settings.default_language,
            created_at=now,
            **held,
        )
        cc = ContactChannel(
            contact=contact, channel=m.channel, address=m.sender, last_inbound_at=now
        )
        s.add(cc)
        s.flush()
        # A contact created just now has no invitation and no case: nothing more to look up.
        return Found(cc.id, contact.id, contact.language, surveyed=False, in_case=False)
    # The contact locked before its channel row is written, as `_SENDER` and an erasure do; one
    # erased meanwhile fails the row's insert, and `handle_inbound`'s retry makes a fresh one.
    s.execute(_LOCK_CONTACT, {"id": contact.id})
    cc = ensure_channel(s, contact, m.channel, m.sender)
    cc.last_inbound_at = now
    return Found(cc.id, contact.id, contact.language)

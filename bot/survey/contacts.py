"""Contacts and their per-channel addresses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

import phonenumbers
from sqlalchemy import Connection, Table, TextClause, bindparam, select, text
from sqlalchemy.orm import Session

from bot.config import LANGUAGES
from bot.storage.db import Prepared
from bot.storage.models import (
    OPEN_STATES,
    CaseStatus,
    Contact,
    ContactChannel,
    Invitation,
)
from bot.storage.models import InvitationState as S
from channels.base import Inbound

if TYPE_CHECKING:
    from bot.runtime import Runtime

PHONE_CHANNELS = ("sms", "whatsapp")
CLOSED_STATES = (S.COMPLETED, S.EXPIRED, S.UNANSWERED)
# Invitations an inbound message can act on: an open one, or a closed one it may add to.
INBOUND_STATES = (*OPEN_STATES, *CLOSED_STATES)


def normalise_phone(raw: str, country: str = "MX") -> str:
    """E.164 for a valid phone number; ValueError naming what is wrong otherwise."""
    try:
        number = phonenumbers.parse(raw, None if raw.strip().startswith("+") else country)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {raw!r}") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"not a valid phone number: {raw!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


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


CHANNELS = cast(Table, ContactChannel.__table__)


def _context(contact_id: str) -> str:
    """SQL columns: whether the contact has an invitation an inbound message can act on, and
    an unresolved case (the staff module may relay the message)."""
    states = ", ".join(f"'{st.value}'" for st in INBOUND_STATES)
    return (
        f"EXISTS (SELECT 1 FROM invitations WHERE invitations.contact_id = {contact_id}"
        f" AND invitations.state IN ({states})) AS surveyed,"
        f" EXISTS (SELECT 1 FROM cases WHERE cases.contact_id = {contact_id}"
        f" AND cases.status != '{CaseStatus.RESOLVED.value}') AS in_case"
    )


# Text: SQLAlchemy leaves an updated table's columns unqualified in RETURNING (inside the
# subqueries they would name the subqueries' own tables), and loses the bound values of
# subqueries inside a CTE.
_NOW = bindparam("now", type_=CHANNELS.c.last_inbound_at.type)
# SQLite (the transaction already holds the write lock): mark the channel seen and read the
# sender's context in one statement.
_SEEN_RETURNING = Prepared(
    text(
        "UPDATE contact_channels SET last_inbound_at = :now"
        " WHERE channel = :channel AND address = :address"
        " RETURNING id, contact_id,"
        " (SELECT language FROM contacts WHERE contacts.id = contact_channels.contact_id),"
        f" {_context('contact_channels.contact_id')}"
    ).bindparams(_NOW)
)


def lock_and_mark(then: str = "", also: str = "") -> TextClause:
    """PostgreSQL: lock the channel row and its contact (a customer's second message waits for
    the first one's transaction), read the context and mark the channel seen, in one
    statement; `then` adds CTEs reading `sender`, and `also` columns to the row."""
    return text(
        "WITH sender AS ("
        " SELECT contact_channels.id, contact_channels.contact_id, contacts.language,"
        f" {_context('contacts.id')}"
        " FROM contact_channels JOIN contacts ON contacts.id = contact_channels.contact_id"
        " WHERE contact_channels.channel = :channel AND contact_channels.address = :address"
        " FOR UPDATE OF contact_channels, contacts"
        "), seen AS ("
        " UPDATE contact_channels SET last_inbound_at = :now FROM sender"
        " WHERE contact_channels.id = sender.id"
        f"){then} SELECT id, contact_id, language, surveyed, in_case{also} FROM sender"
    ).bindparams(_NOW)


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


def mark_seen(conn: Connection, m: Inbound, now: datetime) -> Found | None:
    """SQLite: the sender's channel row, marked seen (`last_inbound_at`), with its context,
    under the write lock the transaction holds. (PostgreSQL's lookup locks rows instead:
    `lock_and_mark`, which `bot.inbound.receive` extends to store the message in the same
    statement.)
    The context's subqueries are not locked on either: the rows they look for are only created
    outside the customer's lock (invitations by the dispatcher; a case the webhook creates has
    no card yet, and only a case with a card in a staff chat takes messages)."""
    rows = _SEEN_RETURNING.rows(conn, {"channel": m.channel, "address": m.sender, "now": now})
    return found_from(rows[0]) if rows else None


def found_from(row: Any) -> Found:
    """`Found` from a row of `mark_seen`'s statement or of one `lock_and_mark` makes."""
    return Found(row[0], row[1], row[2], bool(row[3]), bool(row[4]))


_BY_LINK = select(Invitation).where(Invitation.link_token == bindparam("token"))
_BY_PHONE = select(Contact).where(Contact.phone == bindparam("phone")).order_by(Contact.id).limit(1)
_LOCK_CONTACT = select(Contact.id).where(Contact.id == bindparam("id")).with_for_update()


def create_for_inbound(rt: Runtime, s: Session, m: Inbound, now: datetime) -> Found:
    """A channel row for a sender seen for the first time: an existing contact (same phone, or
    the Telegram deep link's) or a new one."""
    contact = None
    if m.start_payload:
        # Telegram onboarding: the deep link names the invitation, and so the contact.
        inv = s.scalar(_BY_LINK, {"token": m.start_payload})
        if inv is not None:
            contact = inv.contact
            contact.telegram_chat_id = m.sender
    if contact is None and m.channel in PHONE_CHANNELS and m.sender.startswith("+"):
        contact = s.scalar(_BY_PHONE, {"phone": m.sender})
    if contact is None:
        hint = (m.language_hint or "")[:2].lower()
        contact = Contact(
            name=m.sender_name,
            phone=m.sender if m.channel in PHONE_CHANNELS and m.sender.startswith("+") else None,
            telegram_chat_id=m.sender if m.channel == "telegram" else None,
            language=hint if hint in LANGUAGES else rt.settings.default_language,
            created_at=now,
        )
        cc = ContactChannel(
            contact=contact, channel=m.channel, address=m.sender, last_inbound_at=now
        )
        s.add(cc)
        s.flush()
        # A contact created just now has no invitation and no case: nothing more to look up.
        return Found(cc.id, contact.id, contact.language, surveyed=False, in_case=False)
    if rt.db.postgres:
        s.execute(_LOCK_CONTACT, {"id": contact.id})
    cc = ensure_channel(s, contact, m.channel, m.sender)
    cc.last_inbound_at = now
    return Found(cc.id, contact.id, contact.language)

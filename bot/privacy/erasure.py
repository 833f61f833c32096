"""Erasing a customer (issue 20): what identifies the person goes, the anonymous score stays.

`erase_contact` runs inside the caller's writing transaction and never calls a provider:
- the contact row is deleted; its channels, consents and cases (with their events and alerts)
  go by their foreign keys' `ON DELETE CASCADE`; invitations and responses stay with no contact
  (`ON DELETE SET NULL`, migration 0018);
- every message of the person becomes a tombstone (no address, text or payload; its provider id
  stays, so a provider's redelivery of an old message finds it and cannot bring the person back);
- responses lose their comment, invitations their personal metadata and their link token;
  pending invitations are cancelled;
- staff on an open case are told in its thread, in words that name nobody.

docs/privacy.md ("Erasure") says exactly what is kept.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Executable, bindparam, delete, or_, select, tuple_, update
from sqlalchemy.orm import Session

from bot.storage import audit
from bot.storage.messages import queue_outbound
from bot.storage.models import (
    Alert,
    Case,
    CaseEvent,
    CaseStatus,
    Contact,
    ContactChannel,
    Invitation,
    Message,
    Response,
)
from bot.storage.models import InvitationState as S
from bot.survey.rules import ERASED
from channels import registry
from channels.base import DeliveryStatus, Outbound

(STAFF_CHANNEL,) = registry.named(staff_chat=True)
STAFF_DESTINATION = f"{STAFF_CHANNEL}:"  # an alert's destination in a staff chat (staff.alerts)

# Pending invitations, cancelled: not sent yet (or maybe sent) → skipped; asked → expired; a
# score waiting for its reason → completed (the score stands, with no comment).
CANCEL = {
    S.SCHEDULED: S.SKIPPED,
    S.SENDING: S.SKIPPED,
    S.UNKNOWN: S.SKIPPED,
    S.ASKED: S.EXPIRED,
    S.AWAITING_REASON: S.COMPLETED,
}
# Metadata keys that name a person (matched per word of the key: "customer_email", "NomeCliente").
PERSONAL_WORDS = frozenset(
    {
        "name", "nombre", "nome", "fullname", "firstname", "lastname", "surname", "apellido",
        "email", "mail", "correo", "phone", "telephone", "tel", "telefono", "telefone", "mobile",
        "celular", "cell", "whatsapp", "telegram", "address", "direccion", "endereco", "street",
        "calle", "rua", "zip", "postcode", "cep", "birthday", "birthdate", "dob", "cpf", "curp",
        "rfc", "dni", "passport", "ssn", "ip", "customer", "cliente", "client", "contact",
    }
)  # fmt: skip
_WORDS = re.compile(r"[a-z]+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
# Strings shorter than this are not searched for in metadata values ("Al" is in "Almacén").
MIN_NEEDLE = 4
# The provider ids of the staff chat's messages linked to the cases (relays into a thread).
_RELAYS = (
    select(Message.provider_id)
    .join(CaseEvent, CaseEvent.message_id == Message.id)
    .where(CaseEvent.case_id.in_(bindparam("cases", expanding=True)))
    .where(Message.channel == STAFF_CHANNEL, Message.provider_id.is_not(None))
)
NOTICE = "🗑 The customer asked to erase their data: case #{case} closed."


@dataclass(frozen=True)
class Erased:
    contact_id: int
    responses_kept: int  # anonymous scores kept
    invitations_cancelled: int
    messages_scrubbed: int
    cases_removed: int
    open_case_ids: tuple[int, ...]  # cases that were open/taken (staff are told)


def erased_json(e: Erased) -> dict[str, Any]:
    """The counts, as the API answers them and the CLI prints them."""
    return {
        "responses_kept": e.responses_kept,
        "invitations_cancelled": e.invitations_cancelled,
        "messages_scrubbed": e.messages_scrubbed,
        "cases_removed": e.cases_removed,
        "open_cases": list(e.open_case_ids),
    }


class NotFound(LookupError):
    """No contact with that id (never existed, or already erased)."""


def find_by_phone(s: Session, phone_e164: str) -> int | None:
    """The contact with this phone number (the oldest, as inbound messages find it), or None."""
    return s.scalar(
        select(Contact.id).where(Contact.phone == phone_e164).order_by(Contact.id).limit(1)
    )


def erase_contact(
    s: Session, contact_id: int, *, at: datetime, actor: str, source: str | None = None
) -> Erased:
    """Erase the contact `contact_id` in `s`'s transaction (see the module's doc); NotFound if
    there is none. Locks the contact row, then its channel rows (the order inbound messages
    lock them in: `bot.survey.contacts._SENDER`), so a message from the person either commits
    before (and is scrubbed here) or waits and finds nobody (a fresh contact)."""
    contact = s.scalar(select(Contact).where(Contact.id == contact_id).with_for_update())
    if contact is None:
        raise NotFound(contact_id)
    addresses = s.execute(
        select(ContactChannel.channel, ContactChannel.address)
        .where(ContactChannel.contact_id == contact_id)
        .order_by(ContactChannel.id)
        .with_for_update()
    ).all()
    needles = _needles(contact, [address for _, address in addresses])
    cases = s.execute(select(Case.id, Case.status).where(Case.contact_id == contact_id)).all()
    case_ids = [c.id for c in cases]
    open_ids = tuple(c.id for c in cases if c.status != CaseStatus.RESOLVED)
    cards = _cards(s, case_ids)
    for case_id in open_ids:
        _tell_staff(s, case_id, [c for c in cards if c.case_id == case_id], at)
    pairs = [(channel, address) for channel, address in addresses]
    scrubbed = _scrub_messages(s, contact_id, pairs, case_ids, cards)
    _scrub_digests(s, needles)
    cancelled = _cancel_invitations(s, contact_id, at)
    _scrub_invitations(s, contact_id, needles, at)
    comments = update(Response).where(Response.contact_id == contact_id)
    kept = _rows(s, comments.values(comment=None, updated_at=at))
    # The database's cascades do the rest: channels, consents, cases, their events and alerts.
    _rows(s, delete(Contact).where(Contact.id == contact_id))
    s.expire_all()  # the ORM's copies of those rows are gone with them
    erased = Erased(contact_id, kept, cancelled, scrubbed, len(case_ids), open_ids)
    audit.record(
        s,
        at=at,
        actor=actor,
        action="contact.erase",
        target=f"contact:{contact_id}",
        source=source,
        responses_kept=kept,
        invitations_cancelled=cancelled,
        messages_scrubbed=scrubbed,
        cases_removed=len(case_ids),
        open_cases=list(open_ids),
    )
    return erased


def addresses_of(s: Session, contact_id: int) -> list[str]:
    """The contact's phone (with and without +), chat id and channel addresses: what names
    them in a provider's raw payload (the inbound spool's rejected entries). Ask before the
    erasure, in its transaction."""
    contact = s.get(Contact, contact_id)
    if contact is None:
        return []
    found = [contact.phone, contact.telegram_chat_id]
    found += s.scalars(
        select(ContactChannel.address).where(ContactChannel.contact_id == contact_id)
    )
    if contact.phone:
        found.append(contact.phone.lstrip("+"))
    return sorted({a for a in found if a and len(a) >= MIN_NEEDLE})


def _needles(contact: Contact, addresses: Iterable[str]) -> list[str]:
    """The person's identifying strings, lower-cased: name, phone (with and without +), chat
    id, addresses, and the e-mail-like attribute values."""
    found = [contact.name, contact.phone, contact.telegram_chat_id, contact.external_id]
    found += list(addresses)
    if contact.phone:
        found.append(contact.phone.lstrip("+"))
    found += [v for v in (contact.attributes or {}).values() if isinstance(v, str) and "@" in v]
    return sorted({n.strip().lower() for n in found if n and len(n.strip()) >= MIN_NEEDLE})


def personal_key(key: str) -> bool:
    """Whether a metadata key names personal data (`customer_email`, `NomeCliente`, `phone`)."""
    words = _WORDS.findall(_CAMEL.sub("_", key).lower())
    return any(w in PERSONAL_WORDS or w.startswith(("customer", "client")) for w in words)


def scrub_meta(meta: dict[str, Any], needles: Iterable[str]) -> dict[str, Any]:
    """`meta` without the keys that look personal or whose value contains one of `needles`."""
    needles = list(needles)

    def mentions(value: Any) -> bool:
        text = json.dumps(value, ensure_ascii=False).lower()
        return any(n in text for n in needles)

    return {k: v for k, v in meta.items() if not personal_key(k) and not mentions(v)}


def _cards(s: Session, case_ids: list[int]) -> list[Alert]:
    """The cases' cards in a staff chat (the alerts a provider accepted)."""
    if not case_ids:
        return []
    return list(
        s.scalars(
            select(Alert)
            .where(
                Alert.case_id.in_(case_ids),
                Alert.destination.startswith(STAFF_DESTINATION),
                Alert.provider_id.is_not(None),
            )
            .order_by(Alert.id)
        )
    )


def _tell_staff(s: Session, case_id: int, cards: list[Alert], at: datetime) -> None:
    """A notice in each card's thread, queued for the outbox (it names nobody). The staff chat
    speaks English, as every staff-side text (`bot.staff.chat`)."""
    for card in cards:
        notice = Outbound(
            channel=STAFF_CHANNEL,
            to=card.destination.removeprefix(STAFF_DESTINATION),
            text=NOTICE.format(case=case_id),
            reply_to=card.provider_id,
        )
        queue_outbound(s, notice, contact_id=None, kind="case_erased", now=at)
    s.flush()


def _scrub_messages(
    s: Session,
    contact_id: int,
    addresses: list[tuple[str, str]],
    case_ids: list[int],
    cards: list[Alert],
) -> int:
    """Tombstones for every message of the person: theirs and to them (by contact, and by
    address on each channel), and the staff chat's that quote them (relays and cards)."""
    whose = [Message.contact_id == contact_id]
    if addresses:
        whose.append(tuple_(Message.channel, Message.address).in_(addresses))
    if case_ids:
        linked = select(CaseEvent.message_id).where(
            CaseEvent.case_id.in_(case_ids), CaseEvent.message_id.is_not(None)
        )
        whose.append(Message.id.in_(linked))
    # The staff chat's thread: the cards, what was relayed under them, and staff's messages
    # answering either (theirs quote or name the person too); edits of the cards (`case_card`).
    refs = {c.provider_id for c in cards if c.provider_id}
    if case_ids:
        refs |= {ref for ref in s.scalars(_RELAYS, {"cases": case_ids}) if ref}
    if refs:
        whose.append(
            (Message.channel == STAFF_CHANNEL)
            & or_(
                Message.payload["edit_of"].as_string().in_(refs),
                (Message.payload["reply_to"].as_string().in_(refs))
                & (Message.kind != "case_erased"),
            )
        )
    # What the outbox has not sent yet never will be (its tombstone has nothing to send).
    _rows(
        s,
        update(Message)
        .where(or_(*whose), Message.direction == "out", Message.status == DeliveryStatus.QUEUED)
        .values(status=DeliveryStatus.FAILED, error_code=ERASED),
    )
    return _rows(
        s,
        update(Message).where(or_(*whose)).values(address="", text="", payload={}, contact_id=None),
    )


def _scrub_digests(s: Session, needles: list[str]) -> None:
    """Staff digests (alerts with no case) list open cases by the customer's name."""
    if not needles:
        return
    for alert in s.scalars(select(Alert).where(Alert.case_id.is_(None))):
        text = alert.payload.get("text")
        if isinstance(text, str):
            scrubbed = text
            for n in needles:
                scrubbed = re.sub(re.escape(n), "—", scrubbed, flags=re.IGNORECASE)
            if scrubbed != text:
                alert.payload = {**alert.payload, "text": scrubbed}
    s.flush()


def _cancel_invitations(s: Session, contact_id: int, at: datetime) -> int:
    cancelled = 0
    for before, after in CANCEL.items():
        values: dict[str, Any] = {"state": after, "lease_until": None, "updated_at": at}
        if after is S.SKIPPED:
            values["skip_reason"] = ERASED
        cancelled += _rows(
            s,
            update(Invitation)
            .where(Invitation.contact_id == contact_id, Invitation.state == before)
            .values(values),
        )
    return cancelled


def _scrub_invitations(s: Session, contact_id: int, needles: list[str], at: datetime) -> None:
    """No personal metadata and no link token (a deep link names the person's invitation)."""
    rows = s.execute(
        select(Invitation.id, Invitation.meta).where(Invitation.contact_id == contact_id)
    ).all()
    for inv_id, meta in rows:
        clean = scrub_meta(meta or {}, needles)
        _rows(
            s,
            update(Invitation)
            .where(Invitation.id == inv_id)
            .values(meta=clean, link_token=None, updated_at=at),
        )


def _rows(s: Session, stmt: Executable) -> int:
    """Run a Core UPDATE or DELETE in the session's transaction; the rows it touched."""
    return int(s.connection().execute(stmt).rowcount)

"""Delighted's people: create (a purchase without an order: the same path), list, delete (an
erasure), their pending survey requests, unsubscribes and bounces."""

from __future__ import annotations

import json
import math
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.config import LANGUAGES
from bot.events import Event
from bot.integrations.delighted.shapes import (
    FIELD_NAMES,
    NotFound,
    PersonFacts,
    Refused,
    digits,
    email,
    flag,
    moment,
    person_json,
    text,
    unix,
    whole,
)
from bot.privacy.erasure import erase_contact
from bot.runtime import Runtime
from bot.storage import audit
from bot.storage.models import Contact, ContactChannel, Invitation, InvitationState, Response
from bot.survey import optout
from bot.survey.contacts import address_for, ensure_channel, normalise_phone
from bot.survey.customers import Customer, find_contact, upsert_contact
from bot.survey.fields import Invalid, check_json
from bot.survey.purchases import Conflict, Purchase, register_purchase
from channels import registry

# Delighted's channels, as npsbot names them ("email": the survey's own chat channels).
CHANNELS = {"sms": ("sms",), "whatsapp": ("whatsapp",), "telegram": ("telegram",), "email": None}
# Delighted's special properties that are the contact's fields, not the survey's metadata.
LOCALE = "locale"
MAX_DELAY = 90 * 24 * 3600  # npsbot's own limit on a purchase's delay
MAX_PROPERTIES = 4000  # a purchase's metadata is at most 4 KB of JSON (with "source" added)
CANCELLED = "cancelled"  # skip reason: the business removed the pending survey request
UNSUBSCRIBED = "unsubscribed-"  # the address of a channel row that only holds an opt-out


@dataclass(frozen=True)
class PersonRequest:
    email: str | None = None
    phone: str | None = None
    name: str | None = None
    channels: tuple[str, ...] | None = None
    delay: int | None = None  # seconds
    properties: Mapping[str, Any] = field(default_factory=dict)
    send: bool = True
    survey: str | None = None  # npsbot's own: which survey (default: the first)

    def customer(self) -> Customer:
        locale = str(self.properties.get(LOCALE) or "")[:2].lower()
        language = locale if locale in LANGUAGES else None
        return Customer(name=self.name, phone=self.phone, email=self.email, language=language)


def parse_person(data: Any, country: str) -> PersonRequest:
    if not isinstance(data, dict):
        raise Refused("the body must be an object of parameters")
    phone = text(data, "phone_number", 32)
    if phone is not None:
        try:
            phone = normalise_phone(phone, country)
        except ValueError as exc:
            raise Refused(f"phone_number: {exc}") from exc
    mail = email(data)
    if mail is None and phone is None:
        raise Refused("email or phone_number is required")
    channel = text(data, "channel", 16)
    if channel is not None and channel not in CHANNELS:
        raise Refused(f"channel must be one of {', '.join(CHANNELS)}")
    props = data.get("properties") or {}
    if not isinstance(props, dict):
        raise Refused("properties must be an object of key/values")
    try:
        check_json(props, "properties")
    except Invalid as exc:
        raise Refused(f"{exc.field}: {exc.reason}") from exc
    if len(json.dumps(props)) > MAX_PROPERTIES:
        raise Refused("properties must be at most 4 KB of JSON (a purchase's metadata limit)")
    delay = data.get("delay")
    return PersonRequest(
        email=mail,
        phone=phone,
        name=text(data, "name", 200),
        channels=CHANNELS[channel] if channel else None,
        delay=None if delay in (None, "") else whole(delay, "delay", 0, MAX_DELAY, 0),
        properties={str(k): v for k, v in props.items()},
        send=flag(data.get("send"), "send", True),
        survey=text(data, "survey", 64),
    )


def create_person(rt: Runtime, req: PersonRequest) -> dict[str, Any]:
    """Upsert the person; unless `send` is false, schedule their survey as a purchase without
    an order would be (delay, quiet hours, the skip rules; an e-mail only: `no_chat_address`)."""
    if not req.send:
        with rt.db.session_for_update() as s:
            contact, _ = upsert_contact(s, req.customer(), rt.clock(), rt.settings.default_language)
            return person_json(contact) | {"survey_scheduled_at": None}
    meta = {k: v for k, v in req.properties.items() if k != LOCALE} | {"source": "delighted"}
    purchase = Purchase(
        order_id=f"delighted-{secrets.token_hex(12)}",  # Delighted has no order: one each time
        customer=req.customer(),
        survey=req.survey,
        delay_minutes=None if req.delay is None else math.ceil(req.delay / 60),
        channels=req.channels,
        metadata=meta,
    )
    try:
        outcome = register_purchase(rt, purchase)
    except Invalid as exc:
        raise Refused(f"{FIELD_NAMES.get(exc.field, exc.field)}: {exc.reason}") from exc
    except Conflict as exc:  # a fresh order id each time: only a collision of 96 random bits
        raise Refused(str(exc), 409) from exc
    with rt.db.session() as s:
        inv = s.get(Invitation, outcome.invitation.id)
        assert inv is not None and inv.contact is not None  # just made, for this contact
        scheduled = inv.state == InvitationState.SCHEDULED
        return person_json(inv.contact) | {
            "survey_scheduled_at": unix(inv.due_at) if scheduled else None,
            "properties": dict(req.properties),
            # npsbot's own: why there is no survey (`no_chat_address`, `resurvey_window`…).
            "survey_request": {"id": str(inv.id), "status": inv.state, "reason": inv.skip_reason},
        }


def find_person(s: Session, identifier: str, country: str = "US") -> Contact | None:
    """`42`, `email:ana@example.com`, `phone_number:+5255…` (Delighted's identifiers), or a
    bare e-mail (`people/{email}/survey_requests/pending`)."""
    kind, sep, value = identifier.partition(":")
    if not sep and "@" in identifier:
        kind, value = "email", identifier
    elif not sep:
        kind, value = "id", identifier
    if kind == "id":
        number = digits(value)
        return None if number is None else s.get(Contact, number)
    if kind == "email":
        return s.scalar(
            select(Contact).where(Contact.email == value.strip().lower()).order_by(Contact.id)
        )
    if kind == "phone_number":
        try:
            phone = normalise_phone(value, country)  # Delighted's are E.164: `+` first
        except ValueError:
            return None
        return find_contact(s, Customer(phone=phone))
    return None


def facts(s: Session, ids: Sequence[int]) -> dict[int, PersonFacts]:
    """Each contact's last send, last answer and next scheduled survey, in three queries."""
    if not ids:
        return {}
    inv = Invitation
    latest = (
        select(inv.contact_id, func.max(inv.sent_at))
        .where(inv.contact_id.in_(ids))
        .group_by(inv.contact_id)
    )
    answered = (
        select(Response.contact_id, func.max(Response.scored_at))
        .where(Response.contact_id.in_(ids))
        .group_by(Response.contact_id)
    )
    upcoming = (
        select(inv.contact_id, func.min(inv.due_at))
        .where(inv.contact_id.in_(ids), inv.state == InvitationState.SCHEDULED)
        .group_by(inv.contact_id)
    )
    sent, last, due = ({k: v for k, v in s.execute(q).all()} for q in (latest, answered, upcoming))
    return {i: PersonFacts(sent.get(i), last.get(i), due.get(i)) for i in ids}


def list_people(
    s: Session, args: Mapping[str, Any], after: int, country: str
) -> tuple[list[dict[str, Any]], int | None]:
    """A page of people, oldest first, after the cursor (a contact id); the next cursor."""
    per_page = whole(args.get("per_page"), "per_page", 1, 100, 20)
    query = select(Contact).where(Contact.id > after).order_by(Contact.id).limit(per_page + 1)
    if (since := moment(args.get("since"), "since")) is not None:
        query = query.where(Contact.created_at >= since)
    if (until := moment(args.get("until"), "until")) is not None:
        query = query.where(Contact.created_at <= until)
    if (mail := email(args)) is not None:
        query = query.where(Contact.email == mail)
    if (raw := text(args, "phone_number", 32)) is not None:
        try:
            query = query.where(Contact.phone == normalise_phone(raw, country))
        except ValueError as exc:
            raise Refused(f"phone_number: {exc}") from exc
    rows = list(s.scalars(query))
    more = len(rows) > per_page
    rows = rows[:per_page]
    known = facts(s, [c.id for c in rows])
    return [person_json(c, known[c.id]) for c in rows], (rows[-1].id if more else None)


def delete_person(rt: Runtime, identifier: str, actor: str, source: str | None) -> None:
    """Delighted's "delete a person" is npsbot's erasure: the contact and what names them."""
    with rt.db.session_for_update() as s:
        contact = find_person(s, identifier, rt.settings.default_country)
        if contact is None:
            raise NotFound("person")
        erase_contact(s, contact.id, at=rt.clock(), actor=actor, source=source)


def cancel_pending(rt: Runtime, identifier: str, actor: str, source: str | None) -> int:
    """The person's scheduled surveys are not sent (skipped, `cancelled`); how many."""
    now = rt.clock()
    with rt.db.session_for_update() as s:
        contact = find_person(s, identifier, rt.settings.default_country)
        if contact is None:
            raise NotFound("person")
        done = s.execute(
            update(Invitation)
            .where(
                Invitation.contact_id == contact.id,
                Invitation.state == InvitationState.SCHEDULED,
            )
            .values(state=InvitationState.SKIPPED, skip_reason=CANCELLED, updated_at=now)
        )
        count = int(getattr(done, "rowcount", 0) or 0)
        audit.record(
            s,
            at=now,
            actor=actor,
            action="delighted.survey_requests.cancel",
            target=f"contact:{contact.id}",
            source=source,
            cancelled=count,
        )
        return count


def unsubscribe(rt: Runtime, identifier: str, actor: str, source: str | None) -> None:
    """The opt-out a customer's STOP makes, on every channel that reaches them: surveys stop,
    open ones close as opted out, and the withdrawal is in their consent history."""
    now = rt.clock()
    events: list[Event] = []
    with rt.db.session_for_update() as s:
        contact = find_person(s, identifier, rt.settings.default_country)
        if contact is None:
            raise NotFound("person")
        mine = select(ContactChannel).where(ContactChannel.contact_id == contact.id)
        rows = {cc.channel: cc for cc in s.scalars(mine)}
        for name in rt.channels:
            if name in rows or registry.capabilities(name).sandbox:
                continue
            # No address yet (an e-mail only): a row holds the opt-out, and keeps it when the
            # address comes (`ensure_channel` updates the address of the contact's row).
            address = address_for(contact, name) or f"{UNSUBSCRIBED}{contact.id}"
            rows[name] = ensure_channel(s, contact, name, address)
        s.flush()  # the rows just made, for `opt`'s statements
        for name in rows:
            optout.opt(
                s.connection(),
                contact.id,
                name,
                out=True,
                method="api",
                source="delighted",
                now=now,
                events=events,
            )
        s.execute(
            update(Invitation)
            .where(
                Invitation.contact_id == contact.id,
                Invitation.state.in_((InvitationState.ASKED, InvitationState.AWAITING_REASON)),
            )
            .values(state=InvitationState.OPTED_OUT, updated_at=now)
        )
        audit.record(
            s,
            at=now,
            actor=actor,
            action="delighted.unsubscribe",
            target=f"contact:{contact.id}",
            source=source,
        )
    rt.bus.publish(*events)


def _page(args: Mapping[str, Any]) -> tuple[int, int]:
    per_page = whole(args.get("per_page"), "per_page", 1, 100, 20)
    page = whole(args.get("page"), "page", 1, 10**6, 1)
    return per_page, (page - 1) * per_page


def _by_contact(s: Session, column: Any, args: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
    """Contacts with a time on one of their channels (opted out, unreachable): the earliest."""
    per_page, offset = _page(args)
    when = func.min(column).label("at")
    query = (
        select(Contact, when)
        .join(ContactChannel, ContactChannel.contact_id == Contact.id)
        .where(column.is_not(None))
        .group_by(Contact.id)
        .order_by(when, Contact.id)
        .limit(per_page)
        .offset(offset)
    )
    if (since := moment(args.get("since"), "since")) is not None:
        query = query.having(when >= since)
    if (until := moment(args.get("until"), "until")) is not None:
        query = query.having(when <= until)
    return [
        {
            "person_id": str(c.id),
            "email": c.email,
            "name": c.name,
            "phone_number": c.phone,
            key: unix(at),
        }
        for c, at in s.execute(query)
    ]


def unsubscribes(s: Session, args: Mapping[str, Any]) -> list[dict[str, Any]]:
    return _by_contact(s, ContactChannel.opted_out_at, args, "unsubscribed_at")


def bounces(s: Session, args: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Delighted's bounced e-mails are npsbot's unreachable addresses (a number that is not a
    phone, a blocked bot)."""
    return _by_contact(s, ContactChannel.unreachable_at, args, "bounced_at")

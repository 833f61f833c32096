"""Delighted's SMS autopilot (a person surveyed again every N days) as npsbot's relational
program: the members are the contacts with the attribute `autopilot_sms = "yes"`, and the
configuration is the relational survey whose audience asks for it (docs/programs.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.integrations.delighted.people import facts, find_person
from bot.integrations.delighted.shapes import NotFound, Refused, email, person_json, text, unix
from bot.runtime import Runtime
from bot.storage import audit
from bot.storage.models import Contact, Invitation, InvitationState, Survey
from bot.survey.contacts import normalise_phone
from bot.survey.customers import Customer, parse_attributes, upsert_contact
from bot.survey.fields import Invalid
from bot.survey.programs import DEFAULT_CADENCE, is_relational, program_of

MEMBER = "autopilot_sms"  # the contact attribute a relational survey's audience selects on
YES = "yes"


def program(s: Session) -> Survey | None:
    """The relational survey whose audience is the autopilot's members."""
    for survey in s.scalars(select(Survey).order_by(Survey.id)):
        if is_relational(survey.options) and YES in program_of(survey.options).attributes.get(
            MEMBER, ()
        ):
            return survey
    return None


def configuration(s: Session) -> dict[str, Any]:
    survey = program(s)
    days = program_of(survey.options).cadence_days if survey else DEFAULT_CADENCE
    return {
        "platform_id": "sms",
        "active": survey is not None,
        "frequency": days * 24 * 3600,  # seconds, as Delighted gives it
        "created_at": unix(survey.created_at) if survey else None,
        "updated_at": unix(survey.updated_at) if survey else None,
        "survey": survey.key if survey else None,  # npsbot's own
    }


def _member(contact: Contact) -> bool:
    return (contact.attributes or {}).get(MEMBER) == YES


def memberships(s: Session, per_page: int, after: int) -> tuple[list[dict[str, Any]], int | None]:
    """A page of members (oldest contact first) after the cursor; the next cursor."""
    query = (
        select(Contact)
        .where(Contact.id > after, Contact.attributes[MEMBER].as_string() == YES)
        .order_by(Contact.id)
        .limit(per_page + 1)
    )
    rows = list(s.scalars(query))
    more = len(rows) > per_page
    rows = rows[:per_page]
    known = facts(s, [c.id for c in rows])
    out = []
    for c in rows:
        nxt = s.scalar(
            select(Invitation)
            .where(Invitation.contact_id == c.id, Invitation.state == InvitationState.SCHEDULED)
            .order_by(Invitation.due_at)
            .limit(1)
        )
        request = None
        if nxt is not None:
            request = {
                "id": str(nxt.id),
                "created_at": unix(nxt.created_at),
                "survey_scheduled_at": unix(nxt.due_at),
                "properties": dict(nxt.meta),
            }
        out.append(
            {
                "created_at": unix(c.created_at),
                "updated_at": unix(c.updated_at),
                "person": person_json(c, known[c.id]),
                "next_survey_request": request,
            }
        )
    return out, (rows[-1].id if more else None)


def _identified(
    s: Session, data: Mapping[str, Any], country: str
) -> tuple[Contact | None, Customer]:
    """The person a membership request names: `person_id`, `person_email` or
    `person_phone_number`; the customer to create when none is known yet."""
    person_id = text(data, "person_id", 20)
    if person_id is not None:
        contact = find_person(s, person_id)
        if contact is None:
            raise NotFound("person")
        return contact, Customer()
    mail = email(data, "person_email")
    phone = text(data, "person_phone_number", 32)
    if phone is not None:
        try:
            phone = normalise_phone(phone, country)
        except ValueError as exc:
            raise Refused(f"person_phone_number: {exc}") from exc
    if phone is None and mail is None:
        raise Refused("person_id, person_email or person_phone_number is required")
    contact = find_person(s, f"phone_number:{phone}") if phone else None
    if contact is None and mail is not None:
        contact = find_person(s, f"email:{mail}")
    return contact, Customer(phone=phone, email=mail)


def add(rt: Runtime, data: Mapping[str, Any], actor: str, source: str | None) -> dict[str, Any]:
    """Make the person a member (the program will ask them every `cadence_days`); the
    `properties` become their attributes, which the program's audience may filter on."""
    props = data.get("properties") or {}
    try:
        attributes = parse_attributes(props, "properties")
    except Invalid as exc:
        raise Refused(f"{exc.field}: {exc.reason}") from exc
    now = rt.clock()
    with rt.db.session_for_update() as s:
        contact, customer = _identified(s, data, rt.settings.default_country)
        merged = Customer(
            phone=customer.phone if contact is None else None,
            email=customer.email if contact is None else None,
            attributes={**attributes, MEMBER: YES},
        )
        if contact is None:
            contact, _ = upsert_contact(s, merged, now, rt.settings.default_language)
        else:
            both = {**(contact.attributes or {}), **merged.attributes}
            contact.attributes = {k: v for k, v in both.items() if v is not None}  # null: removed
        s.flush()
        audit.record(
            s,
            at=now,
            actor=actor,
            action="delighted.autopilot.add",
            target=f"contact:{contact.id}",
            source=source,
        )
        return {"person": person_json(contact), "properties": dict(props)}


def remove(rt: Runtime, data: Mapping[str, Any], actor: str, source: str | None) -> dict[str, Any]:
    now = rt.clock()
    with rt.db.session_for_update() as s:
        contact, _ = _identified(s, data, rt.settings.default_country)
        if contact is None or not _member(contact):
            raise NotFound("autopilot membership")
        contact.attributes = {k: v for k, v in contact.attributes.items() if k != MEMBER}
        audit.record(
            s,
            at=now,
            actor=actor,
            action="delighted.autopilot.remove",
            target=f"contact:{contact.id}",
            source=source,
        )
        return {"person": person_json(contact)}

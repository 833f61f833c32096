"""Delighted's survey responses and metrics over npsbot's responses: list (filters, pages,
order, the person expanded), retrieve, create (a completed invitation), update (properties,
notes, tags) and the NPS of a period (`scoring.nps`, the one computation)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

import scoring
from bot.definitions import SurveyInvalid
from bot.integrations.delighted.people import facts
from bot.integrations.delighted.shapes import (
    NotFound,
    Refused,
    digits,
    moment,
    person_json,
    text,
    unix,
    whole,
)
from bot.storage import audit
from bot.storage.models import Contact, Invitation, InvitationState, Response, Survey, utcnow
from bot.survey.fields import Invalid, check_json
from bot.survey.purchases import survey_by_key
from bot.survey.surveys import save_survey

CHANNEL = "delighted"  # the channel of a response that came through Delighted's API or export
ORDERS = ("asc", "desc", "asc:updated_at", "desc:updated_at")  # Delighted's `order` values
# Invitation metadata keys Delighted's update writes (its notes and tags have no npsbot column).
NOTES, TAGS = "delighted_notes", "delighted_tags"
MAX_COMMENT = 5000


@dataclass(frozen=True)
class NewResponse:
    score: int
    comment: str | None
    at: datetime
    properties: Mapping[str, Any]


def record_response(
    s: Session,
    survey: Survey,
    contact: Contact | None,
    r: NewResponse,
    *,
    language: str,
    order_id: str | None = None,
) -> Response:
    """A response given outside npsbot's chat (Delighted's API, its export): a completed
    invitation at `r.at` and its response, with themes and sentiment; no case, no alert (it is
    history, or the business's own survey). `r.at` is its day in the reports; `updated_at` is
    now, so the rollup rebuilds that day (`bot.insights.rollup`). `contact` None: anonymous."""
    inv = Invitation(
        survey=survey,
        contact=contact,
        order_id=order_id,
        state=InvitationState.COMPLETED,
        language=contact.language if contact else language,
        channels=[CHANNEL],
        channel=CHANNEL,
        occurred_at=r.at,
        due_at=r.at,
        sent_at=r.at,  # counts for the resurvey window, as a survey sent then would
        meta=dict(r.properties),
        created_at=r.at,
    )
    s.add(inv)
    s.flush()
    response = Response(
        invitation_id=inv.id,
        survey_id=survey.id,
        contact_id=contact.id if contact else None,
        channel=CHANNEL,
        score=r.score,
        category=str(scoring.classify(r.score)),
        scored_at=r.at,
        completed_at=r.at,
    )
    if r.comment:
        # The contact's language: no detection (a whole export stays fast).
        found = scoring.analyze_comment(r.comment, inv.language, score=r.score)
        response.comment, response.commented_at = r.comment, r.at
        response.themes, response.sentiment = list(found.themes), found.sentiment
        response.comment_language, response.contradiction = found.language, found.contradiction
    s.add(response)
    s.flush()
    return response


def parse_new(data: Mapping[str, Any], now: datetime) -> NewResponse:
    score = whole(data.get("score"), "score", 0, 10, -1)
    if score < 0:
        raise Refused("score is required: a whole number from 0 to 10")
    props = data.get("person_properties") or data.get("properties") or {}
    if not isinstance(props, dict):
        raise Refused("person_properties must be an object of key/values")
    try:
        check_json(props, "person_properties")
    except Invalid as exc:
        raise Refused(f"{exc.field}: {exc.reason}") from exc
    at = moment(data.get("created_at"), "created_at") or now
    return NewResponse(score, text(data, "comment", MAX_COMMENT), at, props)


def history_survey(s: Session, key: str, actor: str, now: datetime) -> Survey:
    """The survey responses from Delighted belong to: `key`, made when it is missing (it is
    never sent by itself: no purchase names it)."""
    survey = survey_by_key(s, key)
    if survey is None:
        try:
            save_survey(s, key, {"name": "Moved from Delighted"}, actor, now, new=True)
        except SurveyInvalid as exc:
            raise Refused(f"survey: {key!r} cannot be a survey key ({exc})") from exc
        survey = survey_by_key(s, key)
        assert survey is not None
    return survey


def create(
    s: Session, data: Mapping[str, Any], survey_key: str, actor: str, now: datetime
) -> Response:
    person = str(data.get("person") or "")
    number = digits(person)
    contact = None if number is None else s.get(Contact, number)
    if contact is None:
        raise Refused("person must be the id of an existing person")
    new = parse_new(data, now)
    survey = history_survey(s, survey_key, actor, now)
    return record_response(s, survey, contact, new, language=contact.language)


def find(s: Session, response_id: str) -> Response:
    found = None
    if (number := digits(response_id)) is not None:
        found = s.get(Response, number)
    if found is None:
        raise NotFound("survey response")
    return found


def update(
    s: Session,
    response: Response,
    data: Mapping[str, Any],
    *,
    at: datetime,
    actor: str,
    source: str | None,
) -> None:
    """Delighted's update: `person_properties` merge into the invitation's metadata; `notes`
    and `tags` are kept there. The score and comment are the customer's: left as they are."""
    inv = response.invitation
    meta = dict(inv.meta)
    changed = []
    try:
        props = data.get("person_properties")
        if isinstance(props, dict) and any(meta.get(str(k)) != v for k, v in props.items()):
            check_json(props, "person_properties")
            meta |= {str(k): v for k, v in props.items()}
            changed.append("person_properties")
        for key, name in ((NOTES, "notes"), (TAGS, "tags")):
            value = data.get(name)
            if isinstance(value, list) and value != meta.get(key, []):  # the client sends all
                check_json(value, name)
                meta[key] = value
                changed.append(name)
    except Invalid as exc:
        raise Refused(f"{exc.field}: {exc.reason}") from exc
    if changed:
        inv.meta = meta
        response.updated_at = utcnow()  # changed: `updated_since` finds it
        target = f"response:{response.id}"
        audit.record(
            s,
            at=at,
            actor=actor,
            action="delighted.response.update",
            target=target,
            source=source,
            fields=changed,
        )


def _id(contact_id: int | None) -> str | None:
    return None if contact_id is None else str(contact_id)  # None: anonymous (erased)


def response_json(r: Response, person: dict[str, Any] | None = None) -> dict[str, Any]:
    inv = r.invitation
    meta = {k: v for k, v in inv.meta.items() if k not in (NOTES, TAGS)}
    return {
        "id": str(r.id),
        "person": person if person is not None else _id(r.contact_id),
        "survey_type": "nps",
        "score": r.score,
        "comment": r.comment,
        "permalink": None,
        "created_at": unix(r.scored_at),
        "updated_at": unix(r.updated_at or r.scored_at),
        "person_properties": meta,
        "notes": inv.meta.get(NOTES, []),
        "tags": inv.meta.get(TAGS, []),
        "additional_answers": [],
        # npsbot's own, beside Delighted's fields.
        "category": r.category,
        "themes": list(r.themes or []),
        "channel": r.channel,
        "survey": inv.survey.key,
    }


_S = TypeVar("_S", bound=Select[*tuple[Any, ...]])


def _filtered(query: _S, args: Mapping[str, Any]) -> _S:
    for name, column, op in (
        ("since", Response.scored_at, "ge"),
        ("until", Response.scored_at, "le"),
        ("updated_since", Response.updated_at, "ge"),
        ("updated_until", Response.updated_at, "le"),
    ):
        when = moment(args.get(name), name)
        if when is not None:
            query = query.where(column >= when if op == "ge" else column <= when)
    if (trend := text(args, "trend", 64)) is not None:
        query = query.join(Survey, Survey.id == Response.survey_id).where(
            (Survey.key == trend) | (Survey.id == (digits(trend) or -1))
        )
    if (person := text(args, "person_id", 20)) is not None:
        query = query.where(Response.contact_id == (digits(person) or -1))
    if (mail := text(args, "person_email", 254)) is not None:
        query = query.join(Contact, Contact.id == Response.contact_id).where(
            Contact.email == mail.lower()
        )
    return query


def listed(s: Session, args: Mapping[str, Any], expand: list[str]) -> list[dict[str, Any]]:
    per_page = whole(args.get("per_page"), "per_page", 1, 100, 20)
    page = whole(args.get("page"), "page", 1, 10**6, 1)
    order = str(args.get("order") or "asc")
    if order not in ORDERS:
        raise Refused(f"order must be one of {', '.join(ORDERS)}")
    column = Response.updated_at if order.endswith("updated_at") else Response.scored_at
    sort = (
        [column.desc(), Response.id.desc()] if order.startswith("desc") else [column, Response.id]
    )
    query = _filtered(select(Response), args).order_by(*sort)
    rows = list(s.scalars(query.limit(per_page).offset((page - 1) * per_page)))
    people: dict[int | None, dict[str, Any]] = {}
    if "person" in expand:
        ids = list({r.contact_id for r in rows if r.contact_id is not None})
        known = facts(s, ids)
        for c in s.scalars(select(Contact).where(Contact.id.in_(ids))):
            people[c.id] = person_json(c, known[c.id])
    return [response_json(r, people.get(r.contact_id)) for r in rows]


def metrics(s: Session, args: Mapping[str, Any]) -> dict[str, Any]:
    """Delighted's metrics: the NPS and each group's count and percent (0–100) over the
    period's completed responses; npsbot's margin of error beside them."""
    query = _filtered(
        select(Response.category, func.count()).where(Response.completed_at.is_not(None)), args
    ).group_by(Response.category)
    counts: dict[str, int] = {k: v for k, v in s.execute(query).all()}
    result = scoring.nps(
        promoters=int(counts.get("promoter", 0)),
        passives=int(counts.get("passive", 0)),
        detractors=int(counts.get("detractor", 0)),
    )

    def percent(share: float) -> float:
        return round(100 * share, 1)

    return {
        "nps": 0 if result.score is None else round(result.score),  # Delighted's 0: no answers
        "promoter_count": result.promoters,
        "promoter_percent": percent(result.promoter_share),
        "passive_count": result.passives,
        "passive_percent": percent(result.passive_share),
        "detractor_count": result.detractors,
        "detractor_percent": percent(result.detractor_share),
        "response_count": result.n,
        "margin_of_error": result.margin_of_error,  # npsbot's own
    }

"""Seed rows for insights tests: responses inserted as model rows, with known scores."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from bot.accounts.apikeys import create_key
from bot.runtime import Runtime
from bot.storage.models import Case, Contact, Invitation, InvitationState, Response, Survey
from scoring import classify


@dataclass
class Answer:
    score: int | None  # None: delivered, never answered
    at: datetime
    channel: str = "whatsapp"
    comment: str | None = None
    themes: list[str] = field(default_factory=list)
    store: str | None = None
    language: str = "es"
    case: str | None = None  # case status for this response
    survey: str | None = None  # survey key; default: the first synced survey
    state: str | None = None  # the invitation's state; default: completed / asked
    late: bool = False  # answered after the survey expired
    customer: str | None = None  # a name: answers with the same one are one customer's


def seed(rt: Runtime, answers: list[Answer]) -> list[int]:
    """Insert one contact + invitation (+ response, + case) per answer; the response ids."""
    ids: list[int] = []
    with rt.db.session() as s:
        default = s.scalar(select(Survey).order_by(Survey.id))
        assert default is not None
        surveys = {sv.key: sv for sv in s.scalars(select(Survey))}
        for i, a in enumerate(answers):
            survey = surveys[a.survey] if a.survey else default
            if survey is None:
                survey = Survey(key=a.survey, name=a.survey, created_at=a.at, updated_at=a.at)
            contact = None
            if a.customer:
                contact = s.scalar(select(Contact).where(Contact.name == a.customer))
            if contact is None:
                name = a.customer or f"Customer {i}"
                contact = Contact(name=name, language=a.language, created_at=a.at)
                s.add(contact)
                s.flush()
            meta: dict[str, Any] = {"store": a.store} if a.store else {}
            inv = Invitation(
                survey_id=survey.id,
                contact_id=contact.id,
                order_id=f"order-{len(ids)}-{i}-{a.at.timestamp()}",
                state=a.state
                or (InvitationState.COMPLETED if a.score is not None else InvitationState.ASKED),
                language=a.language,
                channels=[a.channel],
                channel=a.channel,
                occurred_at=a.at - timedelta(hours=2),
                due_at=a.at - timedelta(minutes=30),
                sent_at=a.at - timedelta(minutes=30),
                meta=meta,
                created_at=a.at - timedelta(hours=2),
            )
            s.add(inv)
            s.flush()
            if a.score is None:
                continue
            r = Response(
                invitation_id=inv.id,
                survey_id=survey.id,
                contact_id=contact.id,
                channel=a.channel,
                score=a.score,
                category=str(classify(a.score)),
                comment=a.comment,
                themes=list(a.themes),
                sentiment=None,
                scored_at=a.at,
                completed_at=a.at,
                late=a.late,
            )
            s.add(r)
            s.flush()
            ids.append(r.id)
            if a.case:
                s.add(Case(response_id=r.id, contact_id=contact.id, status=a.case, created_at=a.at))
    return ids


def api_key(rt: Runtime) -> dict[str, str]:
    with rt.db.session() as s:
        key = create_key(s, f"reports-{datetime.now().timestamp()}", rt.clock())
    return {"Authorization": f"Bearer {key}"}

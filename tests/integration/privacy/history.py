"""A customer with a whole history, as model rows (faster than playing it through the
channels): the privacy tests' subject (retention, export)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from bot.runtime import Runtime
from bot.storage.models import (
    Alert,
    Case,
    CaseEvent,
    Consent,
    Contact,
    ContactChannel,
    Invitation,
    Message,
    Response,
    Survey,
)

COMMENT = "la entrega tardó muchísimo"
SORRY = "lo sentimos, le llamamos hoy"
ASKED = "¿Nos recomendarías?"
QUEUED = "una respuesta en la cola"


def customer(rt: Runtime, name: str, phone: str, score: int, case: str, at: datetime) -> int:
    """A contact (known to the business as C-<name>) with a whole history at `at`: consent and
    an opt-out on SMS, the question, their answer and comment, a case (with a staff reply and
    the staff alert), and a reply still waiting in the outbox."""
    with rt.db.session() as s:
        survey = s.scalars(select(Survey).order_by(Survey.id)).first()
        assert survey is not None
        c = Contact(
            external_id=f"C-{name}",
            name=name,
            phone=phone,
            language="es",
            attributes={"segment": "gold"},
            created_at=at,
            updated_at=at,
        )
        s.add(c)
        s.flush()
        s.add(ContactChannel(contact_id=c.id, channel="sms", address=phone, opted_out_at=at))
        for given, method, source in ((True, "api", "checkout form"), (False, "keyword", "BAJA")):
            s.add(
                Consent(
                    contact_id=c.id,
                    channel="sms",
                    given=given,
                    method=method,
                    source=source,
                    at=at,
                    recorded_at=at,
                )
            )
        inv = Invitation(
            survey_id=survey.id,
            contact_id=c.id,
            state="completed",
            language="es",
            channels=["sms"],
            channel="sms",
            occurred_at=at,
            due_at=at,
            sent_at=at,
            created_at=at,
            updated_at=at,
        )
        s.add(inv)
        s.flush()
        r = Response(
            invitation_id=inv.id,
            survey_id=survey.id,
            contact_id=c.id,
            channel="sms",
            score=score,
            category="detractor",
            comment=COMMENT,
            themes=["delivery"],
            scored_at=at,
            commented_at=at,
            completed_at=at,
            updated_at=at,
        )
        s.add(r)
        s.flush()
        kase = Case(response_id=r.id, contact_id=c.id, status=case, created_at=at)
        kase.resolved_at = at if case == "resolved" else None
        s.add(kase)
        s.flush()
        s.add(
            CaseEvent(
                case_id=kase.id, kind="staff_reply", actor_name="Luis Pérez", text=SORRY, at=at
            )
        )
        s.add(
            Alert(
                case_id=kase.id,
                destination="telegram:-100",
                kind="alert",
                state="sent",
                next_attempt_at=at,
                created_at=at,
                sent_at=at,
            )
        )
        for direction, text, payload, status in (
            ("out", ASKED, {"to": phone, "text": ASKED}, "delivered"),
            ("in", f"{score}, {COMMENT}", {}, "received"),
            ("out", QUEUED, {"to": phone, "text": QUEUED}, "queued"),
        ):
            s.add(
                Message(
                    channel="sms",
                    direction=direction,
                    provider_id=None if status == "queued" else f"SM{name}{direction}",
                    address=phone,
                    contact_id=c.id,
                    invitation_id=inv.id,
                    text=text,
                    payload=payload,
                    status=status,
                    created_at=at,
                )
            )
        return c.id

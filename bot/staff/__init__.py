"""Closing the loop: staff alerts, and cases worked from the staff chat, the dashboard and the CLI.

- `alerts`: which responses alert and where; `cases`: the case workflow (one transition table);
  `cards`: a case's card in the staff chat; `chat`: the staff chat itself; `desk`: acting on a
  case from the dashboard or the CLI; `digest`: the daily or weekly digest.
- Here: the handlers of completed responses that bootstrap subscribes (alerts for the cases a
  survey's rules flag, and the promoters' review link).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.events import DetractorResponded, Event, ResponseCompleted
from bot.runtime import Runtime
from bot.staff.alerts import destinations, enqueue, rules
from bot.staff.chat import in_window
from bot.storage.hooks import emit
from bot.storage.messages import queue_outbound
from bot.storage.models import Case, CaseEvent, ContactChannel, Message, Response
from channels.base import Outbound

PROMOTER_TEXTS = {
    "es": "¡Gracias! Si tienes un minuto, tu reseña nos ayudaría mucho: {link}",
    "en": "Thank you! If you have a minute, a review would help us a lot: {link}",
    "pt": "Obrigado! Se tiver um minuto, sua avaliação nos ajudaria muito: {link}",
}


def _alert_case(rt: Runtime, s: Session, case: Case, response: Response, now: datetime) -> int:
    inv = response.invitation
    dests = destinations(rt.settings, inv.survey.options, inv.meta)
    if not dests:
        return 0
    added = enqueue(s, case_id=case.id, destinations=dests, kind="alert", now=now)
    if added:
        s.add(CaseEvent(case_id=case.id, kind="queued", text=f"{added} destination(s)", at=now))
    return added


def on_detractor(rt: Runtime, event: Event) -> None:
    assert isinstance(event, DetractorResponded)
    now = rt.clock()
    with rt.db.session_for_update() as s:
        case = s.get(Case, event.case_id)
        response = s.get(Response, event.response_id)
        if case is None or response is None:
            return
        if not rules(response.invitation.survey.options).alerts("detractor", response.themes):
            return
        added = _alert_case(rt, s, case, response, now)
    if added:
        rt.wake.set()


def on_completed(rt: Runtime, event: Event) -> None:
    assert isinstance(event, ResponseCompleted)
    now = rt.clock()
    added = 0
    with rt.db.session_for_update() as s:
        response = s.get(Response, event.response_id)
        if response is None:
            return
        survey = response.invitation.survey
        if event.category != "detractor" and rules(survey.options).alerts(
            response.category, response.themes
        ):
            # Passives or a watched theme: a case like a detractor's (DetractorResponded covers
            # detractors).
            case = s.scalar(select(Case).where(Case.response_id == response.id))
            if case is None:
                case = Case(response_id=response.id, contact_id=response.contact_id, created_at=now)
                s.add(case)
                s.flush()
                opened = {"case_id": case.id, "response_id": response.id, "score": response.score}
                opened["reopened"] = False
                emit(s, at=now, kind="case.opened", data=opened, contact_id=case.contact_id)
            added = _alert_case(rt, s, case, response, now)
        if response.category == "promoter":
            added += promoter_follow_up(rt, s, response, now)
    if added:
        rt.wake.set()


def promoter_follow_up(rt: Runtime, s: Session, response: Response, now: datetime) -> int:
    """The survey's review/referral link for the response's language, once, to promoters only."""
    inv = response.invitation
    if response.category != "promoter":
        return 0
    links = inv.survey.options.get("promoter_links", {})
    link = links.get(inv.language) or links.get("default")
    if not link:
        return 0
    already = s.scalar(
        select(Message.id).where(
            Message.invitation_id == inv.id,
            Message.kind == "promoter_link",
            Message.direction == "out",
        )
    )
    cc = s.scalar(
        select(ContactChannel).where(
            ContactChannel.contact_id == response.contact_id,
            ContactChannel.channel == response.channel,
        )
    )
    if already is not None or cc is None or cc.opted_out_at is not None:
        return 0
    if not in_window(response.channel, cc.last_inbound_at, now):
        return 0
    texts = inv.survey.options.get("promoter_texts", {})
    template = texts.get(inv.language) or PROMOTER_TEXTS.get(inv.language, PROMOTER_TEXTS["en"])
    queue_outbound(
        s,
        Outbound(channel=response.channel, to=cc.address, text=template.format(link=link)),
        contact_id=response.contact_id,
        invitation_id=inv.id,
        kind="promoter_link",
        now=now,
    )
    return 1

"""The survey page's answers (`/s/<token>`), through the chat's own path.

The page posts form fields; each becomes an `Inbound` on the `web` channel and goes through
`handle_inbound` (the conversation's `step`, `answer.apply`: the same scoring, comment analysis,
cases and events as a chat answer), naming its invitation. The provider id is the invitation's
and the step's (`web-<id>-score`, `web-<id>-why`): a second submit is a redelivery, answered as
the first and changing nothing, so a token gets one answer.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from bot.inbound.receive import handle_inbound
from bot.runtime import Runtime
from bot.storage.models import Invitation
from bot.storage.models import InvitationState as S
from bot.survey.question import score_data
from bot.survey.weblink import OPENS, WEB, deadline, open_on_web
from bot.texts import Texts, texts_for
from channels.base import Inbound
from channels.web import address
from scoring import classify


class Step(enum.StrEnum):
    SCORE = "score"  # the 0-10 buttons
    WHY = "why"  # the reason, optional
    THANKS = "thanks"  # answered: a second visit shows the thanks
    CLOSED = "closed"  # expired, closed without an answer, or skipped: 410


@dataclass(frozen=True)
class View:
    """What the page shows for one invitation."""

    invitation_id: int
    step: Step
    texts: Texts
    score: int | None = None
    category: str | None = None


def step_of(inv: Invitation, now: datetime) -> Step:
    """Where the invitation's page is: the rules of its state and its deadline."""
    r = inv.response
    if r is not None and (r.completed_at is not None or inv.state == S.COMPLETED):
        return Step.THANKS
    if inv.state == S.AWAITING_REASON and r is not None:
        return Step.WHY
    if (inv.state in OPENS or inv.state == S.ASKED) and now < deadline(inv):
        return Step.SCORE
    return Step.CLOSED


def view(rt: Runtime, invitation_id: int) -> View | None:
    """The page of an invitation; None when there is no such invitation."""
    with rt.db.session() as s:
        inv = s.get(Invitation, invitation_id)
        if inv is None:
            return None
        texts = texts_for(
            inv.language,
            inv.survey.texts,
            default=rt.settings.default_language,
            business=rt.settings.business_name,
        )
        r = inv.response
        score = r.score if r is not None else None
        category = classify(score).value if score is not None else None
        return View(inv.id, step_of(inv, rt.clock()), texts, score, category)


def answer_score(rt: Runtime, invitation_id: int, score: int) -> None:
    """A tapped score: the invitation is asked on the web if it was not asked yet, then the
    score is a tapped button's (signed as the chat's buttons are)."""
    now = rt.clock()
    with rt.db.session_for_update() as s:
        query = select(Invitation).where(Invitation.id == invitation_id)
        inv = s.scalar(query.with_for_update() if rt.db.postgres else query)
        if inv is None or inv.contact_id is None or step_of(inv, now) is not Step.SCORE:
            return
        open_on_web(rt, s, inv, now)
        contact_id = inv.contact_id
    m = Inbound(
        channel=WEB,
        provider_id=f"web-{invitation_id}-score",
        sender=address(contact_id),
        text=str(score),
        button=score_data(rt.settings.secret_key, invitation_id, score),
        received_at=now,
    )
    handle_inbound(rt, m, inline=True, invitation=invitation_id)


def answer_why(rt: Runtime, invitation_id: int, text: str) -> None:
    """The why (maybe empty: no comment); the response completes."""
    with rt.db.session() as s:
        inv = s.get(Invitation, invitation_id)
        if inv is None or inv.contact_id is None or step_of(inv, rt.clock()) is not Step.WHY:
            return
        contact_id = inv.contact_id
    m = Inbound(
        channel=WEB,
        provider_id=f"web-{invitation_id}-why",
        sender=address(contact_id),
        text=text,
        received_at=rt.clock(),
    )
    handle_inbound(rt, m, inline=True, invitation=invitation_id)

"""The whole customer dialogue, one row per transition: the facts a message meets → the turn.

Pure: no database, no Flask, no provider (`bot.survey.conversation.step`). A turn's replies are
text keys; `Voice.SURVEY` says them in the survey's texts, `Voice.CONTACT` in the contact's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.storage.models import InvitationState as S
from bot.survey.conversation import (
    APPEND_WINDOW,
    LATE_WINDOW,
    ConsentChange,
    Facts,
    Keyword,
    Link,
    Survey,
    Turn,
    Voice,
    step,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ME = 7  # the sender's contact id
ASKED = Survey(id=1, state=S.ASKED, language="es")
AWAITING = Survey(id=1, state=S.AWAITING_REASON, language="es", score=6)
THANKED = Survey(
    id=1, state=S.COMPLETED, language="es", score=4, completed_at=NOW - timedelta(minutes=10)
)
EXPIRED = Survey(id=1, state=S.EXPIRED, language="es", updated_at=NOW - timedelta(days=1))
UNANSWERED = Survey(id=1, state=S.UNANSWERED, language="es", reasks=3)
STARTED = ConsentChange(True, "start", "/start")
FRESH_LINK = Link(contact_id=ME, state=S.SCHEDULED, expires_at=NOW + timedelta(days=1))


def said(**given: Any) -> Facts:
    """A message from contact `ME`, now, meeting `given`."""
    return Facts(now=NOW, contact_id=ME, **given)


def survey_turn(*replies: str, **values: Any) -> Turn:
    """A turn said in the survey's texts."""
    return Turn(replies, voice=Voice.SURVEY, **values)


@dataclass(frozen=True)
class Row:
    label: str
    facts: Facts
    turn: Turn


ROWS = [
    # --- a deep link opens the chat ("/start <payload>"), on a channel that needs one ---------
    Row(
        "deep link without payload: help, and /start is consent",
        said(text="/start", deep_link=True),
        Turn(("help",), consent=STARTED),
    ),
    Row(
        "deep link to no invitation: stale",
        said(text="/start abc", deep_link=True, start_payload="abc"),
        Turn(("stale_button",), consent=STARTED),
    ),
    Row(
        "deep link expired: stale",
        said(
            text="/start abc",
            deep_link=True,
            start_payload="abc",
            link=replace(FRESH_LINK, expires_at=NOW - timedelta(seconds=1)),
        ),
        Turn(("stale_button",), consent=STARTED),
    ),
    Row(
        "deep link of another contact: stale",
        said(
            text="/start abc",
            deep_link=True,
            start_payload="abc",
            link=replace(FRESH_LINK, contact_id=ME + 1),
        ),
        Turn(("stale_button",), consent=STARTED),
    ),
    Row(
        "deep link to a scheduled survey: spent, and the survey goes now",
        said(text="/start abc", deep_link=True, start_payload="abc", link=FRESH_LINK),
        Turn(use_link=True, send_now=True, consent=STARTED),
    ),
    Row(
        "deep link to a survey already asked: spent, nothing to send",
        said(
            text="/start abc",
            deep_link=True,
            start_payload="abc",
            link=replace(FRESH_LINK, state=S.ASKED),
        ),
        Turn(use_link=True, consent=STARTED),
    ),
    Row(
        "'/start' where chats need no deep link is plain text",
        said(text="/start abc", start_payload="abc"),
        Turn(("no_survey",)),
    ),
    # --- STOP / START / HELP, typed or the provider's own signal, in any state ----------------
    Row(
        "typed STOP opts out, the keyword is the consent's source",
        said(text="STOP", survey=ASKED),
        Turn(("stopped",), opt_out=True, consent=ConsentChange(False, "keyword", "STOP")),
    ),
    Row(
        "a folded stop word",
        said(text="Bájá!", survey=ASKED),
        Turn(("stopped",), opt_out=True, consent=ConsentChange(False, "keyword", "BAJA")),
    ),
    Row(
        "typed START opts in",
        said(text="alta"),
        Turn(("started",), opt_out=False, consent=ConsentChange(True, "keyword", "ALTA")),
    ),
    Row("typed HELP answers help", said(text="ayuda", survey=AWAITING), Turn(("help",))),
    Row(
        "HELP with no survey open: no '0 to 10', say one comes after a purchase",
        said(text="AYUDA"),
        Turn(("help_no_survey",)),
    ),
    Row(
        "HELP after the survey was answered: the no-survey help",
        said(text="ayuda", survey=THANKED),
        Turn(("help_no_survey",)),
    ),
    Row(
        "the provider's STOP: opted out, it confirmed already",
        said(text="STOP", opt_out=Keyword.STOP, survey=ASKED),
        Turn(opt_out=True, consent=ConsentChange(False, "keyword", "STOP")),
    ),
    Row(
        "the provider's START: opted in silently",
        said(text="START", opt_out=Keyword.START),
        Turn(opt_out=False, consent=ConsentChange(True, "keyword", "START")),
    ),
    Row(
        "the provider's STOP with no word (Telegram: the bot was blocked)",
        said(opt_out=Keyword.STOP),
        Turn(opt_out=True, consent=ConsentChange(False, "keyword", "STOP")),
    ),
    Row("the provider's HELP: nothing to add", said(text="HELP", opt_out=Keyword.HELP), Turn()),
    # --- buttons --------------------------------------------------------------------------------
    Row(
        "a tap on the open survey's button scores, and shows the choice",
        said(button=True, tapped=(1, 9), callback=True, survey=ASKED),
        survey_turn("why_promoter", state=S.AWAITING_REASON, score=9, show_choice=True),
    ),
    Row(
        "a tap while waiting for the why corrects the score",
        said(button=True, tapped=(1, 10), callback=True, survey=AWAITING),
        survey_turn("why_promoter", state=S.AWAITING_REASON, score=10, show_choice=True),
    ),
    Row(
        "a tap from another survey is stale",
        said(button=True, tapped=(2, 9), callback=True, survey=ASKED),
        Turn(("stale_button",), acks_tap=True),
    ),
    Row(
        "a forged tap is stale",
        said(button=True, callback=True, survey=ASKED),
        Turn(("stale_button",), acks_tap=True),
    ),
    Row(
        "a genuine tap with no survey open is stale",
        said(button=True, tapped=(1, 9), callback=True, survey=EXPIRED),
        Turn(("stale_button",), acks_tap=True),
    ),
    Row(
        "a template quick reply reads like typed text",
        said(text="10", button=True, survey=ASKED),
        survey_turn("why_promoter", state=S.AWAITING_REASON, score=10),
    ),
    # --- asked: the score ---------------------------------------------------------------------
    Row(
        "a score in words asks why",
        said(text="nueve", survey=ASKED),
        survey_turn("why_promoter", state=S.AWAITING_REASON, score=9),
    ),
    Row(
        "a detractor's score asks why",
        said(text="3", survey=ASKED),
        survey_turn("why_detractor", state=S.AWAITING_REASON, score=3),
    ),
    Row(
        "a score with its reason completes",
        said(text="8, la entrega tardó", survey=ASKED),
        survey_turn(
            "thanks_passive",
            state=S.COMPLETED,
            score=8,
            comment="la entrega tardó",
            completed=True,
        ),
    ),
    Row(
        "no score: asked again",
        said(text="hola", survey=ASKED),
        survey_turn("reask", state=S.ASKED, reasks=1),
    ),
    Row(
        "only a photo: asked for a number",
        said(media_count=1, survey=ASKED),
        survey_turn("reask_media", state=S.ASKED, reasks=1),
    ),
    Row(
        "no score after two re-asks: closed politely",
        said(text="👍", survey=replace(ASKED, reasks=2)),
        survey_turn("give_up", state=S.UNANSWERED, reasks=3),
    ),
    # --- awaiting the reason --------------------------------------------------------------------
    Row(
        "the reason completes",
        said(text="La atención", survey=AWAITING),
        survey_turn("thanks_detractor", state=S.COMPLETED, comment="La atención", completed=True),
    ),
    Row(
        "a bare number corrects the score",
        said(text="9", survey=AWAITING),
        survey_turn("why_promoter", state=S.AWAITING_REASON, score=9),
    ),
    Row(
        "a number with words is the reason",
        said(text="10 veces pedí ayuda", survey=AWAITING),
        survey_turn(
            "thanks_detractor", state=S.COMPLETED, comment="10 veces pedí ayuda", completed=True
        ),
    ),
    Row(
        "only a photo is the reason",
        said(media_count=2, survey=AWAITING),
        survey_turn(
            "thanks_detractor", state=S.COMPLETED, comment="[2 attachment(s)]", completed=True
        ),
    ),
    Row(
        "nothing at all: asked why again",
        said(text="  ", survey=AWAITING),
        survey_turn("why_detractor", state=S.AWAITING_REASON),
    ),
    # --- no survey open -------------------------------------------------------------------------
    Row("never surveyed", said(text="hola"), Turn(("no_survey",))),
    Row(
        "never surveyed, with a case open: staff first",
        said(text="hola", in_case=True),
        Turn(("no_survey",), relay=True),
    ),
    Row(
        "right after the thanks: added to the comment",
        said(text="y frío", survey=THANKED),
        survey_turn("added", comment="y frío", append=True),
    ),
    Row(
        "long after the thanks: no survey",
        said(
            text="y frío",
            survey=replace(THANKED, completed_at=NOW - APPEND_WINDOW - timedelta(seconds=1)),
        ),
        survey_turn("no_survey"),
    ),
    Row(
        "after the thanks, with a case open: staff first",
        said(text="y frío", survey=THANKED, in_case=True),
        survey_turn("added", comment="y frío", append=True, relay=True),
    ),
    Row(
        "a score soon after expiry: recorded late",
        said(text="10", survey=EXPIRED),
        survey_turn("late", score=10, completed=True, late=True),
    ),
    Row(
        "a late score keeps its reason",
        said(text="8, muy lento", survey=EXPIRED),
        survey_turn("late", score=8, comment="muy lento", completed=True, late=True),
    ),
    Row(
        "a score long after expiry: no survey",
        said(
            text="10",
            survey=replace(EXPIRED, updated_at=NOW - LATE_WINDOW - timedelta(seconds=1)),
        ),
        survey_turn("no_survey"),
    ),
    Row(
        "no score for an expired survey",
        said(text="hola", survey=EXPIRED),
        survey_turn("no_survey"),
    ),
    Row(
        "an expired survey answered already",
        said(text="10", survey=replace(EXPIRED, score=3)),
        survey_turn("no_survey"),
    ),
    Row("a survey closed unanswered", said(text="10", survey=UNANSWERED), survey_turn("no_survey")),
    Row("only a photo, nothing open", said(media_count=1, survey=THANKED), Turn(("no_survey",))),
]


@pytest.mark.parametrize("row", [pytest.param(r, id=r.label) for r in ROWS])
def test_step(row: Row) -> None:
    assert step(row.facts) == row.turn

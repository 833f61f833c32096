"""The whole customer dialogue as a pure state machine.

`step(facts)` takes what a customer's message meets (`Facts`: the text, the provider's signals,
the invitation it may act on, the deep link it names…) and returns what to do (`Turn`: the
invitation's next state, the score and comment to store, an opt-out, the reply keys). No
database, no web, no provider: `bot.inbound.receive` loads the facts under the customer's lock,
calls `step` once and applies the turn (`bot.inbound.answer`).

After python-telegram-bot's examples/conversationbot.py: one small function per state (`STATES`),
tried after what applies in any state (a deep link, erasure, STOP/START/HELP, a stale button).
A customer's own erasure request and its confirmation are read in `bot.survey.erase_words`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.storage.models import OPEN_STATES
from bot.storage.models import InvitationState as S
from bot.survey import erase_words
from scoring import Category, classify, fold, parse_score, reason_from

MAX_REASKS = 2  # then the survey closes politely
# A message this soon after the thanks adds to the comment.
APPEND_WINDOW = timedelta(hours=1)
# An answer this soon after a survey expired is still recorded (flagged late).
LATE_WINDOW = timedelta(days=7)


class Keyword(enum.StrEnum):
    STOP = "stop"
    START = "start"
    HELP = "help"


# Whole-message keywords (any case, accents and trailing punctuation ignored).
KEYWORDS: dict[str, Keyword] = {
    **dict.fromkeys(
        ("stop", "baja", "parar", "cancelar", "unsubscribe", "stopall", "end", "quit", "sair"),
        Keyword.STOP,
    ),
    **dict.fromkeys(("start", "alta", "unstop", "voltar"), Keyword.START),
    **dict.fromkeys(("help", "ayuda", "ajuda", "info"), Keyword.HELP),
}


def _word(text: str) -> str:
    return fold(text).strip(" \t\r\n.!¡?¿,;:-_*\"'")


def keyword(text: str) -> Keyword | None:
    return KEYWORDS.get(_word(text))


@dataclass(frozen=True)
class ConsentChange:
    """Consent given or withdrawn by this message (`bot.survey.consent.record`)."""

    given: bool
    method: str  # keyword, start or touchpoint (`consent.METHODS`)
    source: str | None = None  # the keyword as said ("BAJA"), the touchpoint's key


@dataclass(frozen=True)
class Survey:
    """The invitation a message may act on: the open one, else the last one closed."""

    id: int
    state: S
    reasks: int = 0
    language: str | None = None
    score: int | None = None  # its response's (a response always has one); None: no response
    completed_at: datetime | None = None  # its response's
    updated_at: datetime | None = None  # the invitation's last change (an expiry, when expired)


@dataclass(frozen=True)
class Link:
    """The invitation a `/start <payload>` deep link names."""

    contact_id: int
    state: S
    expires_at: datetime | None


@dataclass(frozen=True)
class Entry:
    """The touchpoint code a message carries (typed, or a Telegram deep link's payload)."""

    valid: bool  # an enabled touchpoint's current code (else disabled or rotated away)
    skip: str | None = None  # why no survey starts now: "touchpoint_window" or a rules reason
    key: str | None = None  # the touchpoint's key (the consent's source)


@dataclass(frozen=True)
class Facts:
    """What one customer message meets."""

    now: datetime
    contact_id: int
    text: str = ""
    media_count: int = 0
    # The provider already handled (and confirmed) its own STOP/START/HELP.
    opt_out: Keyword | None = None
    # The channel needs deep links: its chats open with "/start <payload>".
    deep_link: bool = False
    start_payload: str | None = None
    link: Link | None = None  # the invitation `start_payload` names, if any
    button: bool = False  # the message is a tapped button
    tapped: tuple[int, int] | None = None  # a genuine score button's (invitation id, score)
    callback: bool = False  # the tap waits for an answer (the client shows a spinner)
    survey: Survey | None = None
    in_case: bool = False  # the contact has an unresolved case (staff may take the message)
    entry: Entry | None = None  # the message carries a touchpoint's code
    # A form's field (the survey page): a tapped score or the why's box, never a keyword, and a
    # why is never read for a score; an empty why is the customer's "no comment".
    form: bool = False
    # When the last message we sent here asked to confirm erasing the customer's data.
    erase_asked: datetime | None = None
    erase_language: str | None = None  # the language that question was asked in


class Voice(enum.StrEnum):
    """Whose texts a turn's replies are said in."""

    CONTACT = "contact"  # the contact's language
    SURVEY = "survey"  # the survey's texts in the invitation's language


@dataclass(frozen=True)
class Turn:
    replies: tuple[str, ...] = ()  # text keys, said in order
    voice: Voice = Voice.CONTACT
    state: S | None = None  # the survey's next state (None: untouched)
    reasks: int = 0
    score: int | None = None  # a score given (or corrected) in this message
    comment: str | None = None  # a reason given in this message
    append: bool = False  # the comment adds to the one already stored
    completed: bool = False  # the response is complete: it counts from now on
    late: bool = False  # an answer to a survey that had expired
    opt_out: bool | None = None  # True: STOP on this channel; False: START again
    use_link: bool = False  # the deep link is spent (single use)
    send_now: bool = False  # the linked survey is sent now, on this channel
    relay: bool = False  # offer the message to staff's open case first
    show_choice: bool = False  # edit the question to show the tapped score
    acks_tap: bool = False  # the first reply answers the tapped button
    start_touchpoint: bool = False  # the code's survey starts now, on this channel
    consent: ConsentChange | None = None  # consent given or withdrawn on this channel
    erase: bool = False  # the customer confirmed: erase everything about them now
    language: str | None = None  # the replies' language, when the message said it (erasure)


def _why(category: Category) -> str:
    return f"why_{category.value}"


def _thanks(category: Category) -> str:
    return f"thanks_{category.value}"


def step(f: Facts) -> Turn:
    """One customer message: what applies in any state first, then the survey's state."""
    if f.entry is not None:
        return _entry(f.entry)
    if f.deep_link and f.text.startswith("/start"):
        # Opening the bot's chat is the customer's consent to hear from it there.
        return replace(_deep_link(f), consent=ConsentChange(True, "start", "/start"))
    if not (f.form or f.button) and (turn := _erasure(f)) is not None:
        return turn
    survey = f.survey if f.survey is not None and f.survey.state in OPEN_STATES else None
    kw = None if f.form else f.opt_out or keyword(f.text)
    if kw is not None:
        turn = _keyword(kw, said=f.opt_out is not None, open_survey=survey is not None)
        if turn.opt_out is None:
            return turn
        # The word as the customer said it ("BAJA"), else the provider's report of it.
        word = _word(f.text).upper() or kw.value.upper()
        return replace(turn, consent=ConsentChange(not turn.opt_out, "keyword", word))
    given = None
    if f.button:
        if f.tapped is not None and survey is not None and f.tapped[0] == survey.id:
            given = f.tapped[1]
        elif f.tapped is not None or f.callback:
            # A forged button, or one from a survey that is no longer open.
            return Turn(("stale_button",), acks_tap=True)
        # Otherwise a template's quick reply: its payload is fixed by the template, not our
        # signed data, and its label (the message's text) is read like a typed reply.
    if survey is None:
        return replace(_closed(f), relay=f.in_case)
    return STATES[survey.state](f, survey, given)


def _deep_link(f: Facts) -> Turn:
    """`/start <payload>`: link the chat, and send the pending survey now."""
    if not f.start_payload:
        return Turn(("help",))
    link = f.link
    if link is None or link.expires_at is None or link.expires_at <= f.now:
        return Turn(("stale_button",))
    if link.contact_id != f.contact_id:
        return Turn(("stale_button",))
    return Turn(use_link=True, send_now=link.state is S.SCHEDULED)


def _entry(e: Entry) -> Turn:
    """A touchpoint's code: its survey now (the customer is here), within the abuse bound.
    Sending a live code is the customer's consent to be asked on this channel."""
    if not e.valid:
        return Turn(("code_invalid",))
    consent = ConsentChange(True, "touchpoint", e.key)
    if e.skip is not None:
        return Turn(("code_wait",), consent=consent)
    return Turn(start_touchpoint=True, consent=consent)


def _erasure(f: Facts) -> Turn | None:
    """ "BORRAR MIS DATOS": asked to confirm first, in the request's language; a yes (or the
    request again) soon after the question erases. Anything else is handled as usual."""
    asked = f.erase_asked is not None and f.now - f.erase_asked <= erase_words.CONFIRM_WINDOW
    said = erase_words.request(f.text)
    if asked and (said is not None or erase_words.affirmative(f.text)):
        return Turn(("erased",), erase=True, language=said or f.erase_language)
    if said is not None:
        return Turn(("erase_confirm",), language=said)
    return None


def _keyword(kw: Keyword, *, said: bool, open_survey: bool) -> Turn:
    """STOP/START/HELP; no reply when the provider's own opt-out handling already answered."""
    # With no survey open, "reply 0 to 10" would answer nothing: say when one will come instead.
    help_text = "help" if open_survey else "help_no_survey"
    reply = {Keyword.STOP: "stopped", Keyword.START: "started", Keyword.HELP: help_text}[kw]
    replies = () if said else (reply,)
    opt_out = {Keyword.STOP: True, Keyword.START: False}.get(kw)
    return Turn(replies, opt_out=opt_out)


def _asked(f: Facts, survey: Survey, given: int | None) -> Turn:
    """The question was asked: a score (typed or tapped), maybe with its reason."""
    text = f.text.strip()
    said = Turn(voice=Voice.SURVEY, reasks=survey.reasks, show_choice=f.callback)
    tapped = given is not None
    if given is None:
        given = parse_score(text, survey.language)
    if given is None:
        n = survey.reasks + 1
        if n > MAX_REASKS:
            return replace(said, replies=("give_up",), state=S.UNANSWERED, reasks=n)
        hint = "reask_media" if f.media_count and not text else "reask"
        return replace(said, replies=(hint,), state=S.ASKED, reasks=n)
    cat = classify(given)
    reason = None if tapped else reason_from(text)
    if reason:
        return replace(
            said,
            replies=(_thanks(cat),),
            state=S.COMPLETED,
            score=given,
            comment=reason,
            completed=True,
        )
    return replace(said, replies=(_why(cat),), state=S.AWAITING_REASON, score=given)


def _awaiting_reason(f: Facts, survey: Survey, given: int | None) -> Turn:
    """The score is stored: the reason, or a bare number correcting the score."""
    assert survey.score is not None
    text = f.text.strip()
    said = Turn(voice=Voice.SURVEY, reasks=survey.reasks, show_choice=f.callback)
    if given is None and not f.form and reason_from(text) is None:
        given = parse_score(text, survey.language)
    if given is not None:
        return replace(said, replies=(_why(classify(given)),), state=S.AWAITING_REASON, score=given)
    comment = text or (f"[{f.media_count} attachment(s)]" if f.media_count else "")
    if not comment and f.form:
        thanks = (_thanks(classify(survey.score)),)
        return replace(said, replies=thanks, state=S.COMPLETED, completed=True)
    if not comment:
        return replace(said, replies=(_why(classify(survey.score)),), state=S.AWAITING_REASON)
    return replace(
        said,
        replies=(_thanks(classify(survey.score)),),
        state=S.COMPLETED,
        comment=comment,
        completed=True,
    )


STATES: dict[S, Callable[[Facts, Survey, int | None], Turn]] = {
    S.ASKED: _asked,
    S.AWAITING_REASON: _awaiting_reason,
}


def _closed(f: Facts) -> Turn:
    """No survey open: add to the comment just thanked for, record a late answer, or say so."""
    survey, text = f.survey, f.text.strip()
    if survey is None or not text:
        return Turn(("no_survey",))
    turn = None
    if survey.state is S.COMPLETED:
        turn = _after_thanks(f, survey, text)
    elif survey.state is S.EXPIRED:
        turn = _expired(f, survey)
    return turn or Turn(("no_survey",), voice=Voice.SURVEY)


def _after_thanks(f: Facts, survey: Survey, text: str) -> Turn | None:
    """A message right after the thanks usually finishes the first one's thought."""
    done = survey.completed_at
    if survey.score is None or done is None or f.now - done > APPEND_WINDOW:
        return None
    return Turn(("added",), voice=Voice.SURVEY, comment=text, append=True)


def _expired(f: Facts, survey: Survey) -> Turn | None:
    """A score soon after the survey expired is recorded, flagged late, and never lost."""
    expired = survey.updated_at
    if survey.score is not None or expired is None or f.now - expired > LATE_WINDOW:
        return None
    score = parse_score(f.text, survey.language)
    if score is None:
        return None
    return Turn(
        ("late",),
        voice=Voice.SURVEY,
        score=score,
        comment=reason_from(f.text),
        completed=True,
        late=True,
    )

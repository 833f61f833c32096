"""The survey conversation as a pure state machine.

`step(state, incoming, texts)` takes where an invitation is and what the customer sent, and
returns where it goes and what to say. No database, no web, no provider:
`bot.inbound.receive` loads the state under a lock, calls `step` and stores the `Turn`.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass, field

from bot.storage.models import InvitationState as S
from bot.texts import Texts
from scoring import Category, classify, parse_score

MAX_REASKS = 2  # then the survey closes politely


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


def fold(text: str) -> str:
    """Lower-case, accents off: "BAJA", "Bájá" and "baja" compare equal."""
    nfkd = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in nfkd if not unicodedata.combining(c))


def keyword(text: str) -> Keyword | None:
    word = fold(text).strip(" \t\r\n.!¡?¿,;:-_*\"'")
    return KEYWORDS.get(word)


# Words that surround a score without saying why ("le doy un 10", "I'd give you a 9, thanks").
_FILLER = frozenset(
    [
        "le",
        "te",
        "les",
        "lo",
        "doy",
        "daria",
        "pongo",
        "pondria",
        "seria",
        "es",
        "un",
        "una",
        "uno",
        "a",
        "al",
        "de",
        "del",
        "sobre",
        "en",
        "mi",
        "la",
        "el",
        "y",
        "o",
        "nota",
        "calificacion",
        "puntaje",
        "puntuacion",
        "numero",
        "escala",
        "gracias",
        "si",
        "ok",
        "okay",
        "vale",
        "listo",
        "i",
        "id",
        "d",
        "i'd",
        "would",
        "give",
        "you",
        "a",
        "an",
        "the",
        "it",
        "its",
        "is",
        "my",
        "score",
        "rating",
        "out",
        "of",
        "on",
        "scale",
        "to",
        "and",
        "thanks",
        "thank",
        "yes",
        "sure",
        "eu",
        "dou",
        "daria",
        "um",
        "uma",
        "o",
        "os",
        "as",
        "ao",
        "para",
        "por",
        "minha",
        "meu",
        "e",
        "em",
        "obrigado",
        "obrigada",
        "sim",
        "nota",
        "escala",
        "cero",
        "uno",
        "dos",
        "tres",
        "cuatro",
        "cinco",
        "seis",
        "siete",
        "ocho",
        "nueve",
        "diez",
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "zero",
        "um",
        "dois",
        "duas",
        "tres",
        "quatro",
        "cinco",
        "seis",
        "sete",
        "oito",
        "nove",
        "dez",
    ]
)
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
# A score at the start of a reply, with its scale and separators: "8, ", "9/10 - ", "10!! ".
_LEADING_SCORE = re.compile(
    r"^\s*#?\s*(?:\d{1,2}|[^\W\d_]+)\s*(?:(?:/|de|out of|of|sobre)\s*10)?\s*[,.;:!\-–—)]*\s*",
    re.IGNORECASE,
)


def reason_from(text: str) -> str | None:
    """The "why" that came with a score in one message ("8, la entrega tardó"), if any."""
    words = [w for w in _WORD.findall(fold(text)) if w not in _FILLER and len(w) > 1]
    if not words:
        return None
    rest = _LEADING_SCORE.sub("", text, count=1).strip()
    # Only strip the prefix when what it removed was the score; otherwise keep the whole text.
    if not rest or parse_score(text[: len(text) - len(rest)]) is None:
        rest = text.strip()
    return rest


@dataclass(frozen=True)
class Incoming:
    text: str = ""
    media_count: int = 0
    button_score: int | None = None  # a validated tap on a score button
    language: str | None = None


@dataclass(frozen=True)
class Turn:
    state: S
    replies: tuple[str, ...] = ()
    score: int | None = None  # a score given (or corrected) in this message
    comment: str | None = None  # a reason given in this message
    append: bool = False  # the comment adds to one already stored
    reasks: int = 0
    completed: bool = False
    effects: tuple[str, ...] = field(default_factory=tuple)


def _why(category: Category) -> str:
    return f"why_{category.value}"


def _thanks(category: Category) -> str:
    return f"thanks_{category.value}"


def step(state: S, reasks: int, score: int | None, incoming: Incoming, texts: Texts) -> Turn:
    """One customer message against an invitation in `state`."""
    text = incoming.text.strip()
    if state is S.ASKED:
        given = incoming.button_score
        if given is None:
            given = parse_score(text, incoming.language)
        if given is None:
            n = reasks + 1
            if n > MAX_REASKS:
                return Turn(S.UNANSWERED, (texts("give_up"),), reasks=n)
            hint = "reask_media" if incoming.media_count and not text else "reask"
            return Turn(S.ASKED, (texts(hint),), reasks=n)
        cat = classify(given)
        reason = None if incoming.button_score is not None else reason_from(text)
        if reason:
            return Turn(
                S.COMPLETED,
                (texts(_thanks(cat)),),
                score=given,
                comment=reason,
                reasks=reasks,
                completed=True,
            )
        return Turn(S.AWAITING_REASON, (texts(_why(cat)),), score=given, reasks=reasks)

    if state is S.AWAITING_REASON:
        assert score is not None
        corrected = incoming.button_score
        if corrected is None and reason_from(text) is None:
            corrected = parse_score(text, incoming.language)
        if corrected is not None:
            # A bare number while we wait for the why is a correction of the score.
            return Turn(
                S.AWAITING_REASON,
                (texts(_why(classify(corrected))),),
                score=corrected,
                reasks=reasks,
            )
        comment = text or (
            f"[{incoming.media_count} attachment(s)]" if incoming.media_count else ""
        )
        if not comment:
            return Turn(S.AWAITING_REASON, (texts(_why(classify(score))),), reasks=reasks)
        return Turn(
            S.COMPLETED,
            (texts(_thanks(classify(score))),),
            comment=comment,
            reasks=reasks,
            completed=True,
        )

    if state is S.COMPLETED and text:
        # A second message right after the thanks usually finishes the first one's thought.
        return Turn(S.COMPLETED, (texts("added"),), comment=text, append=True, reasks=reasks)

    raise ValueError(f"no conversation step from state {state}")

"""The reason that came with a score in the same message ("8, la entrega tardó")."""

from __future__ import annotations

import re
import unicodedata

from scoring.parse import parse_score


def fold(text: str) -> str:
    """Lower-case, accents off: "BAJA", "Bájá" and "baja" compare equal."""
    nfkd = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in nfkd if not unicodedata.combining(c))


# Words that surround a score without saying why ("le doy un 10", "I'd give you a 9, thanks").
_FILLER_WORDS = """
    le te les lo doy daria pongo pondria seria es un una uno a al de del sobre en mi la el y o
    nota calificacion puntaje puntuacion numero escala gracias si ok okay vale listo i id d
    i'd would give you an the it its is my score rating out of on scale to and thanks thank
    yes sure eu dou um uma os as ao para por minha meu e em obrigado obrigada sim cero dos
    tres cuatro cinco seis siete ocho nueve diez zero one two three four five six seven eight
    nine ten dois duas quatro sete oito nove dez
"""
_FILLER = frozenset(_FILLER_WORDS.split())

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

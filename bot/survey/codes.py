"""Touchpoint codes: what a customer sends (or a Telegram deep link carries) to start a survey.

Pure: `make_code` builds one from the touchpoint's key and random characters; `find_code` finds
one in a message in any case, with any text around it ("Hola! nps-centro7k4 gracias").
"""

from __future__ import annotations

import re
import secrets

PREFIX = "NPS-"
# No 0/O, 1/I/L: a code copied by hand from a printed card is read back right.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
_CODE = re.compile(r"(?<![A-Za-z0-9])NPS-([A-Za-z0-9]{3,16})(?![A-Za-z0-9])", re.IGNORECASE)


def make_code(key: str, rand: str | None = None) -> str:
    """`NPS-` + up to six letters or digits of the key + three random characters."""
    stem = re.sub(r"[^A-Z0-9]", "", key.upper())[:6]
    tail = rand if rand is not None else "".join(secrets.choice(ALPHABET) for _ in range(3))
    return f"{PREFIX}{stem}{tail}"


def find_code(text: str) -> str | None:
    """The first code in `text`, upper-cased; None when there is none."""
    m = _CODE.search(text)
    return f"{PREFIX}{m.group(1).upper()}" if m else None


def message_code(text: str, start_payload: str | None) -> str | None:
    """The code a message carries: a deep link's whole payload (a random invitation token may
    hold "NPS-…" by chance), else one found in the text."""
    if start_payload is not None:
        m = _CODE.fullmatch(start_payload)
        return f"{PREFIX}{m.group(1).upper()}" if m else None
    return find_code(text)

"""SMS cost: which encoding a text needs (GSM-7 or UCS-2) and how many segments it is billed as.

GSM 03.38: a single SMS carries 160 GSM-7 septets or 70 UCS-2 code units; a concatenated one
loses room to its header (153 / 67 per segment). Characters of the GSM-7 extension table take
two septets (escape + char). UCS-2 counts UTF-16 code units, so an emoji counts 2.
See https://www.twilio.com/docs/glossary/what-sms-character-limit
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# GSM 03.38 basic table (Twilio treats 0x09 as "Ç"; the lowercase "ç" is not GSM-7).
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension table: each costs two septets.
GSM_EXTENDED = frozenset("^{}\\[~]|€\f")

# The only characters the channel-side "smart encoding" replaces: Spanish/Portuguese acute vowels
# that are absent from GSM-7 (é is present) and force a whole text into UCS-2. Readers of es/pt
# SMS are used to unaccented spellings; nothing else (ã, ç, emoji) is touched.
ACCENTS = str.maketrans(
    {"á": "a", "í": "i", "ó": "o", "ú": "u", "Á": "A", "Í": "I", "Ó": "O", "Ú": "U"}
)

Encoding = Literal["GSM-7", "UCS-2"]


@dataclass(frozen=True)
class Segments:
    encoding: Encoding
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    count: int  # billed segments


def is_gsm(text: str) -> bool:
    return all(c in GSM_BASIC or c in GSM_EXTENDED for c in text)


def segments(text: str) -> Segments:
    """The encoding and billed segment count of one SMS text."""
    enc: Encoding
    if is_gsm(text):
        units = sum(2 if c in GSM_EXTENDED else 1 for c in text)
        single, multi, enc = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, multi, enc = 70, 67, "UCS-2"
    count = 1 if units <= single else -(-units // multi)
    return Segments(enc, units, count)


def smart_encode(text: str) -> str:
    """Drop the acute accents that alone force UCS-2, when that lowers the segment count.

    A text that stays UCS-2 anyway (ã, ç, an emoji) or costs the same is returned unchanged, so
    spelling is only given up for a real saving.
    """
    plain = text.translate(ACCENTS)
    if plain != text and segments(plain).count < segments(text).count:
        return plain
    return text

"""Customer-facing texts: English source strings, translated in Babel catalogs (es, en, pt).

`bot/locale/<lang>/LC_MESSAGES/messages.po` holds the translations; they are compiled in memory
at first use. A survey may override any text per language, by key (dashboard or surveys file).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from bot.config import LANGUAGES

LOCALE_DIR = Path(__file__).resolve().parent / "locale"

# key -> English source string (the msgid in the catalogs).
MESSAGES: dict[str, str] = {
    "question": (
        "Considering your complete experience with us, how likely are you to recommend us to "
        "your friends and family? Reply with a number from 0 to 10."
    ),
    "reask": (
        "Sorry, I didn't catch a score. Please reply with one number from 0 (not at all likely) "
        "to 10 (extremely likely)."
    ),
    "reask_media": "Thank you! To answer, please reply with a number from 0 to 10.",
    "give_up": "No problem, we won't ask again this time. Thank you for your time!",
    "why_detractor": (
        "We're sorry to hear that. What is the main reason for your score? "
        "Your answer goes straight to our team."
    ),
    "why_passive": "Thank you! What could we do to earn a 10?",
    "why_promoter": "Great to hear! What do you like most about us?",
    "thanks_detractor": "Thank you for telling us. Someone from our team will look into it.",
    "thanks_passive": "Thank you! Your feedback helps us improve.",
    "thanks_promoter": "Thank you! We're glad you're happy with us.",
    "stopped": "Done: you won't receive more surveys here. Reply START to subscribe again.",
    "started": "You're subscribed again. Reply STOP to unsubscribe.",
    "help": (
        "This is {business}'s customer survey. Reply with a number from 0 to 10 to answer, "
        "or STOP to unsubscribe."
    ),
    "help_no_survey": (
        "This is {business}'s customer survey. You have no open survey right now: we'll write "
        "to you here after your next purchase. Reply STOP to unsubscribe."
    ),
    "no_survey": "Thank you for your message! You have no open survey right now.",
    "late": "Thank you! This survey had already closed, but we have recorded your answer.",
    "added": "Thank you, we've added that to your comments.",
    "stale_button": "This survey is no longer open. Thank you!",
    "score_chosen": "Your score: {score}",
    "code_invalid": "Sorry, this code is no longer valid. Thank you for wanting to tell us!",
    "code_wait": (
        "Thank you! You have told us recently, so we won't ask again just now. "
        "We'd love to hear from you next time."
    ),
    "scan_card": "Scan to tell us how we did",
    "erase_confirm": (
        "Shall we erase all your data (your messages, answers and contact details)? "
        "Reply YES to confirm."
    ),
    "erased": "Done, we have erased your data. Thank you.",
}


@cache
def catalog(language: str, pattern: str = "messages.po") -> Translations:
    """The catalogs of `language` whose file names match `pattern`, compiled in memory and
    merged (the dashboard's are `web-<area>.po`, one per area); empty for none (English)."""
    merged = Translations()
    for po in sorted((LOCALE_DIR / language / "LC_MESSAGES").glob(pattern)):
        with po.open("rb") as f:
            read = read_po(f, locale=language)
        buf = io.BytesIO()
        write_mo(buf, read)
        buf.seek(0)
        merged.merge(Translations(buf))
    return merged


@dataclass(frozen=True)
class Texts:
    """The texts for one language, with a survey's overrides applied."""

    language: str
    overrides: Mapping[str, str]
    business: str = "npsbot"

    def __call__(self, key: str, **params: object) -> str:
        template = self.overrides.get(key)
        if template is None:
            template = catalog(self.language).gettext(MESSAGES[key])
        return template.format(business=self.business, **params)


def texts_for(
    language: str | None,
    survey_texts: Mapping[str, Mapping[str, str]] | None = None,
    *,
    default: str = "es",
    business: str = "npsbot",
) -> Texts:
    lang = language if language in LANGUAGES else default
    overrides = (survey_texts or {}).get(lang, {})
    return Texts(lang, dict(overrides), business)

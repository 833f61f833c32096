"""Spanish, English and Portuguese are first-class: every text translated, placeholders intact."""

from __future__ import annotations

import string

import pytest
from babel.messages.pofile import read_po

from bot.texts import LOCALE_DIR, MESSAGES, texts_for


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("language", ["es", "en", "pt"])
def test_every_text_is_in_the_catalog_translated_with_the_same_placeholders(language: str) -> None:
    with (LOCALE_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f, locale=language)
    for key, source in MESSAGES.items():
        entry = catalog.get(source)
        assert entry is not None, f"{language}: {key!r} missing from the catalog"
        assert entry.string, f"{language}: {key!r} is not translated"
        assert not entry.fuzzy, f"{language}: {key!r} is fuzzy"
        assert _fields(str(entry.string)) == _fields(source), f"{language}: {key!r} placeholders"


def test_the_spanish_question_is_the_classic_wording() -> None:
    assert texts_for("es")("question") == (
        "Considerando tu experiencia completa con nosotros, ¿qué tan probable es que nos "
        "recomiendes con tus amigos y familiares? Responde con un número del 0 al 10."
    )


@pytest.mark.parametrize(
    ("language", "stop", "start"),
    [
        pytest.param("es", "BAJA", "ALTA", id="es"),
        pytest.param("en", "STOP", "START", id="en"),
        pytest.param("pt", "PARAR", "START", id="pt"),
    ],
)
def test_help_and_opt_out_texts_name_keywords_the_bot_understands(
    language: str, stop: str, start: str
) -> None:
    from bot.survey.conversation import Keyword, keyword

    texts = texts_for(language, business="Tienda")
    assert stop in texts("help") and keyword(stop) is Keyword.STOP
    assert start in texts("stopped") and keyword(start) is Keyword.START
    assert stop in texts("help_no_survey")


@pytest.mark.parametrize("language", ["es", "en", "pt"])
def test_help_with_no_survey_open_does_not_ask_for_a_score(language: str) -> None:
    texts = texts_for(language, business="Tienda")
    assert "Tienda" in texts("help_no_survey")
    assert "10" not in texts("help_no_survey")


def test_a_survey_can_override_a_text_per_language() -> None:
    texts = texts_for("pt", {"pt": {"question": "De 0 a 10, nos recomendaria?"}})
    assert texts("question") == "De 0 a 10, nos recomendaria?"
    assert texts("why_passive") == texts_for("pt")("why_passive")

"""Specification of analyze_comment, the taxonomy and the labelled-set evaluation."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import DEFAULT_TAXONOMY, CommentAnalysis, Taxonomy, analyze_comment, detect_language
from tests.unit.scoring.scoring_comment_eval import evaluate, load

DEFAULT_KEYS = (
    "price",
    "delivery",
    "product_quality",
    "customer_service",
    "staff_attitude",
    "waiting_time",
    "app_website",
    "payment",
    "returns_refunds",
    "cleanliness_store",
)


def test_default_taxonomy_has_the_ten_documented_themes_in_order() -> None:
    assert DEFAULT_TAXONOMY.keys == DEFAULT_KEYS
    assert DEFAULT_TAXONOMY.label("delivery", "es") == "Entrega / envío"


@pytest.mark.parametrize(
    ("text", "language"),
    [
        pytest.param("La entrega tardó muchísimo y nadie me avisó", "es", id="es"),
        pytest.param("The delivery took forever and nobody told me", "en", id="en"),
        pytest.param("A entrega demorou demais e ninguém me avisou", "pt", id="pt"),
        pytest.param("👍👍", None, id="emoji-only-has-no-language"),
        pytest.param("", None, id="empty"),
        pytest.param("12345 !!", None, id="no-letters"),
    ],
)
def test_language_is_detected_among_es_en_pt(text: str, language: str | None) -> None:
    assert analyze_comment(text).language == language
    assert detect_language(text) == language


def test_language_hint_skips_detection() -> None:
    assert analyze_comment("ok", "pt").language == "pt"
    assert analyze_comment("ok", "es-MX").language == "es"


@pytest.mark.parametrize(
    ("text", "themes"),
    [
        pytest.param(
            "El envío tardó pero el precio es bueno",
            {"delivery", "price", "waiting_time"},
            id="es-three",
        ),
        pytest.param("Las ENTREGAS", {"delivery"}, id="es-case-and-plural"),
        pytest.param("el envio", {"delivery"}, id="es-accent-optional"),
        pytest.param("carísimo", {"price"}, id="es-superlative"),
        pytest.param("The app keeps crashing", {"app_website"}, id="en-inflection"),
        pytest.param(
            "They refunded me quickly", {"returns_refunds", "waiting_time"}, id="en-refund"
        ),
        pytest.param("O atendente foi grosseiro", {"staff_attitude"}, id="pt-staff"),
        pytest.param("Banheiro sujo", {"cleanliness_store"}, id="pt-cleanliness"),
        pytest.param("Paguei com pix", {"payment"}, id="pt-payment"),
        pytest.param("Hola", set(), id="no-theme"),
    ],
)
def test_themes_match_case_accent_and_inflection_insensitively(text: str, themes: set[str]) -> None:
    assert set(analyze_comment(text).themes) == themes


def test_themes_come_in_taxonomy_order() -> None:
    themes = analyze_comment("payment failed, and the price was high", "en").themes
    assert themes == ("price", "payment")


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        pytest.param("Excelente servicio, muy amables", 1, id="es-positive"),
        pytest.param("Pésimo, nunca llegó", -1, id="es-negative"),
        pytest.param("No me gustó nada", -1, id="es-negation"),
        pytest.param("Sin problemas, todo bien", 1, id="es-sin-problemas"),
        pytest.param("Great service, thank you", 1, id="en-positive"),
        pytest.param("Not good at all", -1, id="en-negation"),
        pytest.param("Good food but really slow and expensive", -1, id="en-contrast"),
        pytest.param("Muito bom, adorei", 1, id="pt-positive"),
        pytest.param("Não gostei, muito ruim", -1, id="pt-negative"),
        pytest.param("Fizeram o estorno no dia seguinte, excelente", 1, id="pt-no-is-in-the"),
        pytest.param("👍👍", 1, id="emoji-positive"),
        pytest.param("😡", -1, id="emoji-negative"),
        pytest.param("Compré una talla M", 0, id="neutral"),
    ],
)
def test_sentiment_sign(text: str, sign: int) -> None:
    sentiment = analyze_comment(text).sentiment
    assert -1.0 <= sentiment <= 1.0
    assert (sentiment > 0.05) - (sentiment < -0.05) == sign


@pytest.mark.parametrize(
    ("text", "score", "contradiction"),
    [
        pytest.param("Pésimo servicio, nunca más", 10, True, id="promoter-with-clearly-negative"),
        pytest.param("Excelente, todo perfecto", 2, True, id="detractor-with-clearly-positive"),
        pytest.param("Excelente, todo perfecto", 10, False, id="promoter-agrees"),
        pytest.param("Pésimo servicio", 0, False, id="detractor-agrees"),
        pytest.param("Pésimo servicio", 8, False, id="passive-never-contradicts"),
        pytest.param("Pésimo servicio", None, False, id="no-score-no-contradiction"),
        pytest.param("Llegó el martes", 10, False, id="neutral-comment-no-contradiction"),
    ],
)
def test_contradictions_staff_care_about(text: str, score: int | None, contradiction: bool) -> None:
    assert analyze_comment(text, score=score).contradiction is contradiction


@pytest.mark.parametrize(
    "score",
    [
        pytest.param(11, id="above-ten"),
        pytest.param(True, id="bool"),
        pytest.param(-1, id="negative"),
    ],
)
def test_invalid_score_is_a_value_error(score: int) -> None:
    with pytest.raises(ValueError):
        analyze_comment("ok", score=score)


def test_analysis_is_a_frozen_dataclass_with_a_dict_form() -> None:
    result = analyze_comment("Great app", "en")
    assert isinstance(result, CommentAnalysis)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.sentiment = 0.0  # type: ignore[misc]
    assert result.to_dict()["themes"] == ["app_website"]


CUSTOM = {
    "parking": {
        "label": {"es": "Estacionamiento", "en": "Parking"},
        "keywords": {"es": ["estacionamiento", "aparcar"], "en": ["parking"], "pt": ["vaga"]},
    },
    "music": {"label": "Music", "keywords": {"en": ["live music", "song"]}},
}


def test_a_business_can_replace_the_taxonomy() -> None:
    custom = Taxonomy.from_mapping(CUSTOM)
    assert custom.keys == ("parking", "music")
    assert analyze_comment("No había dónde aparcar", "es", taxonomy=custom).themes == ("parking",)
    assert analyze_comment("Loved the live music!", "en", taxonomy=custom).themes == ("music",)
    assert analyze_comment("The music was loud", "en", taxonomy=custom).themes == ()
    assert custom.label("music", "es") == "Music"


def test_a_business_can_extend_the_default_taxonomy() -> None:
    extended = DEFAULT_TAXONOMY.merged({"music": CUSTOM["music"]})
    assert extended.keys == (*DEFAULT_KEYS, "music")
    assert analyze_comment("cheap, live music", "en", taxonomy=extended).themes == (
        "price",
        "music",
    )


def test_taxonomy_loads_from_toml_configuration() -> None:
    toml = """
    [wifi]
    label = { en = "Wi-Fi" }
    keywords.en = ["wifi", "internet"]
    keywords.es = ["wifi", "internet"]
    """
    taxonomy = Taxonomy.from_toml(toml)
    assert analyze_comment("sin internet", "es", taxonomy=taxonomy).themes == ("wifi",)


@pytest.mark.parametrize(
    "mapping",
    [
        pytest.param({}, id="empty"),
        pytest.param({"x": ["price"]}, id="theme-not-a-mapping"),
        pytest.param({"x": {"label": "X"}}, id="no-keywords"),
        pytest.param({"x": {"keywords": {"fr": ["prix"]}}}, id="unknown-language"),
        pytest.param({"x": {"keywords": {"en": "price"}}}, id="keywords-not-a-list"),
        pytest.param({"x": {"keywords": {"en": [""]}}}, id="empty-keyword"),
        pytest.param({"x": {"label": 3, "keywords": {"en": ["a"]}}}, id="bad-label"),
    ],
)
def test_invalid_taxonomy_is_a_value_error(mapping: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Taxonomy.from_mapping(mapping)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400), st.sampled_from(["es", "en", "pt", None]))
def test_property_any_text_gives_a_bounded_analysis(text: str, language: str | None) -> None:
    result = analyze_comment(text, language)
    assert -1.0 <= result.sentiment <= 1.0
    assert result.language in ("es", "en", "pt", None)
    assert set(result.themes) <= set(DEFAULT_KEYS)
    assert result.contradiction is False


def test_labelled_set_has_at_least_200_comments_in_three_languages() -> None:
    rows = load()
    assert len(rows) >= 200
    assert {r.language for r in rows} == {"es", "en", "pt"}
    assert {r.polarity for r in rows} == {"pos", "neg", "neu"}
    assert all(r.themes <= set(DEFAULT_KEYS) for r in rows)


def test_labelled_set_accuracy_is_reported_with_a_loose_sanity_floor() -> None:
    # The figures are reported in docs/scoring.md; the floor only catches a broken analyser.
    figures = evaluate()
    assert figures["language_accuracy"] > 0.8
    assert figures["polarity_accuracy_3way"] > 0.6
    assert figures["theme_recall"] > 0.6

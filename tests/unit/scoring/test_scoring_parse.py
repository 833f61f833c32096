"""Specification of parse_score: the one 0–10 score a reply gives, or None to ask again."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring import parse_score
from tests.unit.scoring.scoring_parse_table import rows

ROWS = rows()


def test_the_table_covers_at_least_300_real_phrasings() -> None:
    assert len(ROWS) >= 300
    assert len({row_id for row_id, _, _ in ROWS}) == len(ROWS)


@pytest.mark.parametrize(("reply", "expected"), [pytest.param(r, e, id=i) for i, r, e in ROWS])
def test_reply_gives_expected_score(reply: str, expected: int | None) -> None:
    assert parse_score(reply) == expected


@pytest.mark.parametrize(
    ("reply", "language", "expected"),
    [
        pytest.param("dos", "es", 2, id="es-hint-dos-is-two"),
        pytest.param("dos", "pt", None, id="pt-hint-dos-is-of-the"),
        pytest.param("dos", "pt-BR", None, id="regional-tag-pt-BR-is-pt"),
        pytest.param("9", "fr", 9, id="unknown-hint-is-ignored"),
        pytest.param("nota nove", "pt", 9, id="pt-hint-word"),
        pytest.param("I'd give it a 7", "en", 7, id="en-hint-scale"),
    ],
)
def test_language_hint_only_refines_language_specific_words(
    reply: str, language: str, expected: int | None
) -> None:
    assert parse_score(reply, language) == expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(None, id="none"),
        pytest.param(9, id="int"),
        pytest.param(b"9", id="bytes"),
        pytest.param("9" * 1_000_000, id="one-megabyte"),
        pytest.param("\x00" * 10_000, id="control-characters"),
        pytest.param("\ud800", id="lone-surrogate"),
    ],
)
def test_never_raises_on_odd_input(value: object) -> None:
    assert parse_score(value) is None  # type: ignore[arg-type]


@given(st.text())
def test_property_never_raises_and_never_out_of_range(text: str) -> None:
    result = parse_score(text)
    assert result is None or (isinstance(result, int) and 0 <= result <= 10)


@given(
    st.text(alphabet=st.characters(codec="utf-8"), max_size=300),
    st.sampled_from(["es", "en", "pt", None]),
)
def test_property_language_hint_never_breaks_the_contract(text: str, language: str | None) -> None:
    result = parse_score(text, language)
    assert result is None or 0 <= result <= 10


@given(st.integers(min_value=0, max_value=10))
def test_property_bare_number_is_that_score(n: int) -> None:
    assert parse_score(str(n)) == n


@given(st.integers(min_value=0, max_value=10), st.sampled_from(["", " ", "!", ".", "!!", " 👍"]))
def test_property_number_with_trailing_noise_is_that_score(n: int, noise: str) -> None:
    assert parse_score(f" {n}{noise} ") == n


@given(st.integers().filter(lambda k: not 0 <= k <= 10))
def test_property_out_of_range_integer_is_rejected(k: int) -> None:
    assert parse_score(str(k)) is None


@given(
    st.integers(min_value=0, max_value=10),
    st.integers(min_value=0, max_value=10),
    st.sampled_from([" o ", " or ", " ou ", " u ", "-", " y ", " and ", ", ", " "]),
)
def test_property_two_scores_or_a_range_are_ambiguous(a: int, b: int, sep: str) -> None:
    assert parse_score(f"{a}{sep}{b}") in (None, a if a == b else None)


@given(st.integers(min_value=0, max_value=10))
def test_property_the_same_score_twice_is_not_ambiguous(a: int) -> None:
    assert parse_score(f"{a} ({a})") == a

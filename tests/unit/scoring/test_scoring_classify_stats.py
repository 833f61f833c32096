"""Specification of classify, nps and compare_nps."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring import Category, classify, compare_nps, nps


@pytest.mark.parametrize(
    ("score", "category"),
    [pytest.param(s, Category.DETRACTOR, id=f"{s}-detractor") for s in range(7)]
    + [pytest.param(s, Category.PASSIVE, id=f"{s}-passive") for s in (7, 8)]
    + [pytest.param(s, Category.PROMOTER, id=f"{s}-promoter") for s in (9, 10)],
)
def test_classify_follows_the_nps_bands(score: int, category: Category) -> None:
    assert classify(score) is category


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(-1, id="negative"),
        pytest.param(11, id="above-ten"),
        pytest.param(True, id="bool"),
        pytest.param(9.0, id="float"),
        pytest.param("9", id="string"),
        pytest.param(None, id="none"),
    ],
)
def test_classify_rejects_anything_but_an_int_from_0_to_10(bad: object) -> None:
    with pytest.raises(ValueError):
        classify(bad)  # type: ignore[arg-type]


def test_category_values_are_plain_strings() -> None:
    assert [str(c) for c in Category] == ["promoter", "passive", "detractor"]


def test_worked_example_50_30_20_gives_nps_30_with_margin_15_3() -> None:
    r = nps(promoters=50, passives=30, detractors=20)
    assert (r.n, r.score) == (100, 30.0)
    assert (r.promoter_share, r.passive_share, r.detractor_share) == (0.5, 0.3, 0.2)
    assert r.margin_of_error == pytest.approx(
        1.96 * math.sqrt((0.5 + 0.2 - 0.3**2) / 100) * 100, rel=1e-3
    )
    assert r.margin_of_error == pytest.approx(15.3, abs=0.05)
    assert r.low == pytest.approx(30 - r.margin_of_error)
    assert r.distribution == (0,) * 11


def test_scores_give_the_same_result_as_counts_plus_the_distribution() -> None:
    scores = [10] * 5 + [9] * 3 + [8, 7] + [6, 0]
    r = nps(scores)
    assert (r.promoters, r.passives, r.detractors) == (8, 2, 2)
    assert r.score == pytest.approx(50.0)
    assert r.distribution == (1, 0, 0, 0, 0, 0, 1, 1, 1, 3, 5)
    assert r.margin_of_error == nps(promoters=8, passives=2, detractors=2).margin_of_error


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        pytest.param((1, 0, 0), 100.0, id="all-promoters"),
        pytest.param((0, 0, 1), -100.0, id="all-detractors"),
        pytest.param((0, 3, 0), 0.0, id="all-passives"),
        pytest.param((1, 0, 1), 0.0, id="balanced"),
    ],
)
def test_score_extremes(counts: tuple[int, int, int], expected: float) -> None:
    p, a, d = counts
    assert nps(promoters=p, passives=a, detractors=d).score == expected


def test_small_sample_is_reported_with_its_wide_margin_not_hidden() -> None:
    r = nps([10, 9, 3])
    assert r.n == 3 and r.small_sample
    assert r.score == pytest.approx(33.33, abs=0.01)
    assert r.margin_of_error is not None and r.margin_of_error > 50
    assert r.to_dict()["small_sample"] is True


def test_no_answers_gives_no_score_and_no_margin() -> None:
    r = nps([])
    assert (r.n, r.score, r.margin_of_error, r.low, r.interval()) == (0, None, None, None, None)


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"scores": [9], "promoters": 1}, id="scores-and-counts"),
        pytest.param({"promoters": 1}, id="missing-counts"),
        pytest.param({"promoters": -1, "passives": 0, "detractors": 0}, id="negative-count"),
        pytest.param({"scores": [11]}, id="score-out-of-range"),
        pytest.param({"scores": [True]}, id="bool-score"),
    ],
)
def test_nps_rejects_invalid_input(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        nps(**kwargs)  # type: ignore[arg-type]


def test_interval_at_other_confidence_levels_widens_with_confidence() -> None:
    r = nps(promoters=50, passives=30, detractors=20)
    lo90, hi90 = r.interval(0.90) or (0, 0)
    lo99, hi99 = r.interval(0.99) or (0, 0)
    assert lo99 < lo90 < 30 < hi90 < hi99


def test_comparison_worked_example_is_not_significant() -> None:
    before = nps(promoters=50, passives=30, detractors=20)
    after = nps(promoters=60, passives=25, detractors=15)
    c = compare_nps(before, after)
    se1, se2 = before.margin_of_error / 1.959964, after.margin_of_error / 1.959964  # type: ignore[operator]
    assert c.change == pytest.approx(15.0)
    assert c.se_diff == pytest.approx(math.sqrt(se1**2 + se2**2))
    assert c.z == pytest.approx(15.0 / c.se_diff)
    assert not c.significant and c.p_value > 0.05
    assert c.margin == pytest.approx(1.959964 * c.se_diff, rel=1e-5)


def test_comparison_of_a_large_change_on_large_samples_is_significant() -> None:
    c = compare_nps(
        nps(promoters=400, passives=300, detractors=300),
        nps(promoters=550, passives=250, detractors=200),
    )
    assert c.change == pytest.approx(25.0)
    assert c.significant and c.p_value < 0.001
    assert c.to_dict()["significant"] is True


def test_comparison_with_an_empty_period_is_an_error() -> None:
    with pytest.raises(ValueError):
        compare_nps(nps([]), nps([10]))


def test_comparison_rejects_a_confidence_outside_0_1() -> None:
    with pytest.raises(ValueError):
        compare_nps(nps([10]), nps([9]), confidence=95)


@given(st.lists(st.integers(min_value=0, max_value=10), min_size=1, max_size=500))
def test_property_nps_is_bounded_and_shares_add_up(scores: list[int]) -> None:
    r = nps(scores)
    assert r.score is not None and -100.0 <= r.score <= 100.0
    assert r.promoter_share + r.passive_share + r.detractor_share == pytest.approx(1.0)
    assert sum(r.distribution) == r.n == len(scores)
    assert r.margin_of_error is not None and 0.0 <= r.margin_of_error <= 196.0

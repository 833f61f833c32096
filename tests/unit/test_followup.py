"""The follow-up metrics' pure rules: percentiles and "in time" (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.insights.followup import in_time, percentile

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
DAY = timedelta(hours=24)


def test_percentiles_interpolate_between_the_closest_ranks_like_percentile_cont() -> None:
    minutes = [7, 1, 3, 10, 2, 5, 4, 9, 6, 8]  # in any order
    assert percentile(minutes, 0.5) == 5.5
    assert percentile(minutes, 0.9) == pytest.approx(9.1)
    assert percentile([42], 0.9) == 42 and percentile([], 0.5) is None


def test_a_step_is_in_time_up_to_the_target_and_late_after_it() -> None:
    assert in_time(T0, T0 + DAY, DAY, T0 + 3 * DAY) is True  # exactly at the target
    assert in_time(T0, T0 + DAY + timedelta(seconds=1), DAY, T0 + 3 * DAY) is False


def test_an_unfinished_step_is_undecided_until_past_the_target_as_escalation_counts() -> None:
    assert in_time(T0, None, DAY, T0 + DAY) is None  # escalation waits for created < now − target
    assert in_time(T0, None, DAY, T0 + DAY + timedelta(seconds=1)) is False

"""The log-in throttle's memory stays bounded under a spray of names from many addresses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.accounts.users import LOCK_FOR, MAX_FAILURES, MAX_PAIRS, LoginThrottle

NOW = datetime(2026, 12, 2, 5, 0, tzinfo=UTC)


def test_a_spray_of_names_keeps_at_most_max_pairs() -> None:
    throttle = LoginThrottle()
    for i in range(MAX_PAIRS + 500):
        throttle.failed(f"name{i}", f"10.0.{i // 250}.{i % 250}", NOW)
    assert len(throttle.pairs) <= MAX_PAIRS


def test_a_pair_is_forgotten_once_quiet_for_the_longest_wait_after_its_own() -> None:
    throttle = LoginThrottle()
    for _ in range(MAX_FAILURES):
        throttle.failed("ana", "10.0.0.1", NOW)
    waited = throttle.pairs[("ana", "10.0.0.1")].wait_until
    assert waited is not None
    throttle.failed("ana", "10.0.0.1", waited + LOCK_FOR - timedelta(seconds=1))
    assert throttle.pairs[("ana", "10.0.0.1")].count == MAX_FAILURES + 1
    later = waited + LOCK_FOR * 3
    throttle.failed("ana", "10.0.0.1", later)
    assert throttle.pairs[("ana", "10.0.0.1")].count == 1

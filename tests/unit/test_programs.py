"""Relational programs, the pure part: the audience, today's fair share of the base, and the
survey fields that define a program (validated like every other survey field)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from bot.definitions import SurveyInvalid, check_survey, survey_table
from bot.survey.programs import (
    CAP,
    LATER,
    RECENT,
    Program,
    day_cap,
    in_audience,
    plan_day,
    program_of,
    queue,
    share,
)
from bot.survey.rules import History, skip_reason

TODAY = date(2026, 11, 22)


def ago(days: int) -> date:
    return TODAY - timedelta(days=days)


# --- whom to ask today ------------------------------------------------------------------------

# (eligible, last surveyed, cadence, cap, blocked) -> (chosen, reasons of the others)
PLANS: list[tuple[str, Any, Any, int, int | None, Any, Any, Any]] = [
    ("nobody", [], {}, 90, None, {}, (), {}),
    # 90 contacts over 90 days: one a day, never surveyed first, then by id.
    ("one a day, lowest id first", range(1, 91), {}, 90, None, {}, (1,), None),
    (
        "never surveyed before the longest not surveyed",
        [1, 2, 3],
        {1: ago(100), 2: ago(200)},
        3,
        None,
        {},
        (3,),
        {1: LATER, 2: LATER},
    ),
    (
        "longest not surveyed first among the surveyed",
        [1, 2, 3],
        {1: ago(100), 2: ago(200), 3: ago(150)},
        3,
        None,
        {},
        (2,),
        {1: LATER, 3: LATER},
    ),
    (
        "nobody twice within the cadence",
        [1, 2, 3],
        {1: ago(89), 2: ago(1), 3: ago(90)},
        90,
        None,
        {},
        (),
        {1: RECENT, 2: RECENT, 3: LATER},
    ),
    (
        "a contact a rule refuses keeps its place for a later day",
        [1, 2],
        {},
        1,
        None,
        {1: "fatigue"},
        (2,),
        {1: "fatigue"},
    ),
    (
        "the daily cap holds below the day's share",
        range(1, 11),
        {},
        1,
        3,
        {},
        (1, 2, 3),
        {i: CAP for i in range(4, 11)},
    ),
]


@pytest.mark.parametrize(
    ("eligible", "last", "cadence", "cap", "blocked", "chosen", "reasons"),
    [p[1:] for p in PLANS],
    ids=[p[0] for p in PLANS],
)
def test_each_day_asks_its_share_fairly(
    eligible: Any, last: Any, cadence: int, cap: int | None, blocked: Any, chosen: Any, reasons: Any
) -> None:
    plan = plan_day(list(eligible), last, cadence, cap, TODAY, blocked)
    assert plan.chosen == chosen
    if reasons is not None:
        assert dict(plan.reasons) == reasons
    assert set(plan.chosen) | set(plan.reasons) == set(eligible)  # everyone accounted for


@pytest.mark.parametrize(("n", "cadence"), [(1000, 90), (89, 90), (7, 3), (12345, 30)])
def test_any_cadence_of_days_asks_the_whole_base_each_day_floor_or_ceiling(
    n: int, cadence: int
) -> None:
    shares = [share(n, cadence, TODAY + timedelta(days=i)) for i in range(cadence)]
    assert sum(shares) == n
    assert set(shares) <= {n // cadence, -(-n // cadence)}


def test_a_simulated_cadence_asks_everyone_once_and_then_again() -> None:
    last: dict[int, date] = {}
    asked: list[int] = []
    for i in range(180):
        day = TODAY + timedelta(days=i)
        plan = plan_day(range(1000), last, 90, None, day)
        assert len(plan.chosen) in (11, 12)
        for cid in plan.chosen:
            assert cid not in last or (day - last[cid]).days >= 90
            last[cid] = day
        asked += plan.chosen
    assert sorted(asked) == sorted(list(range(1000)) * 2)


def test_the_chosen_depend_only_on_the_head_of_the_queue_the_worker_reads() -> None:
    # Every third contact is blocked; the worker knows it only for the queue's head, up to the
    # day's cap unblocked (`program_run.load_head`), and chooses the same contacts.
    last = {cid: TODAY - timedelta(days=90 + cid % 7) for cid in range(0, 300, 2)}
    everyone = {cid: "fatigue" for cid in range(0, 300, 3)}
    due = queue(range(300), last, 90, TODAY)
    cap = day_cap(300, 90, 2, TODAY)
    free = [cid for cid in due if cid not in everyone]
    head = due[: due.index(free[cap - 1]) + 1]
    known = {cid: why for cid, why in everyone.items() if cid in head}
    full = plan_day(range(300), last, 90, 2, TODAY, everyone)
    assert plan_day(range(300), last, 90, 2, TODAY, known).chosen == full.chosen == tuple(free[:2])


# --- who is in the audience -------------------------------------------------------------------


AUDIENCES = [
    ({}, {}, None, True),
    ({"attributes": {"segment": ["gold", "silver"]}}, {"segment": "gold"}, None, True),
    ({"attributes": {"segment": ["gold", "silver"]}}, {"segment": "bronze"}, None, False),
    ({"attributes": {"segment": "gold"}}, {}, None, False),
    ({"attributes": {"vip": True}}, {"vip": True}, None, True),
    ({"last_purchase_within_days": 30}, {}, ago(30), True),
    ({"last_purchase_within_days": 30}, {}, ago(31), False),
    ({"last_purchase_within_days": 30}, {}, None, False),
    ({"last_purchase_older_than_days": 180}, {}, ago(181), True),
    ({"last_purchase_older_than_days": 180}, {}, ago(180), False),
]


@pytest.mark.parametrize(("audience", "attributes", "bought", "member"), AUDIENCES)
def test_the_audience_filters_on_attributes_and_last_purchase(
    audience: dict[str, Any], attributes: dict[str, Any], bought: date | None, member: bool
) -> None:
    program = program_of({"kind": "relational", "audience": audience})
    assert in_audience(program, attributes, bought, TODAY) is member


def test_a_program_defaults_to_every_ninety_days_without_a_cap() -> None:
    assert program_of({"kind": "relational"}) == Program(90, None)


# --- fatigue ------------------------------------------------------------------------------------


def test_fatigue_skips_a_contact_surveyed_by_any_survey_within_the_days() -> None:
    now = datetime(2026, 11, 22, 15, tzinfo=UTC)
    recent = History(0, now - timedelta(days=20), frozenset())
    assert skip_reason(recent, ["sms"], 7, now) is None  # fatigue off (0)
    assert skip_reason(recent, ["sms"], 7, now, fatigue_days=30) == "fatigue"
    assert skip_reason(recent, ["sms"], 7, now, fatigue_days=20) is None
    assert skip_reason(recent, ["sms"], 30, now, fatigue_days=60) == "resurvey_window"


# --- the fields ---------------------------------------------------------------------------------

RELATIONAL = {
    "key": "base",
    "kind": "relational",
    "cadence_days": 90,
    "daily_cap": 50,
    "audience": {"attributes": {"segment": ["gold", "silver"]}, "last_purchase_within_days": 365},
}


def test_a_relational_survey_reads_back_as_written() -> None:
    d = check_survey(RELATIONAL)
    assert {k: v for k, v in survey_table(d).items() if k in RELATIONAL} == RELATIONAL


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"kind": "blast"}, "kind", "transactional or relational"),
        ({"kind": "relational", "cadence_days": 0}, "cadence_days", "a whole number from 1"),
        ({"kind": "relational", "daily_cap": "10"}, "daily_cap", "a whole number from 1"),
        ({"kind": "relational", "audience": {"segment": "gold"}}, "audience", "attributes"),
        (
            {"kind": "relational", "audience": {"attributes": {"segment": []}}},
            "audience",
            "attributes",
        ),
        (
            {"kind": "relational", "audience": {"last_purchase_within_days": -1}},
            "audience",
            "attributes",
        ),
        ({"cadence_days": 90}, "cadence_days", "only for a relational survey"),
        ({"kind": "transactional", "daily_cap": 5}, "daily_cap", "only for a relational survey"),
    ],
)
def test_a_refused_program_field_is_named(fields: dict[str, Any], field: str, reason: str) -> None:
    with pytest.raises(SurveyInvalid) as exc:
        check_survey({"key": "k", **fields})
    assert reason in str(exc.value.errors[field])

"""The cases list: each filter, the sort orders, pages and the counts per status, on SQLite and
PostgreSQL; "overdue" is the escalation's rule (`bot.staff.cases.overdue`) at several hours."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.insights import caselist
from bot.runtime import Runtime
from bot.staff import cases as workflow
from bot.storage.models import Case, CaseEvent
from tests.conftest import Clock
from tests.integration.insights.seed import Answer, seed

# name: (score, age, channel, store, status, assignee)
CASES: dict[str, tuple[int, timedelta, str, str | None, str, str | None]] = {
    "fresh": (3, timedelta(minutes=10), "sms", "centro", "open", None),
    "untaken": (0, timedelta(hours=2), "whatsapp", "norte", "open", None),
    "ana_taken": (5, timedelta(hours=20), "telegram", "centro", "taken", "Ana"),
    "luis_late": (6, timedelta(days=3), "whatsapp", None, "taken", "Luis"),
    "done": (2, timedelta(days=5), "sms", "norte", "resolved", "Ana"),
}


@pytest.fixture
def ids(rt: Runtime, clock: Clock) -> dict[str, int]:
    now = clock()
    answers = [
        Answer(sc, now - age, channel=ch, store=st, case=status, comment=f"comment {name}")
        for name, (sc, age, ch, st, status, _who) in CASES.items()
    ]
    seed(rt, answers)
    out: dict[str, int] = {}
    with rt.db.session() as s:
        for name, case in zip(CASES, s.scalars(select(Case).order_by(Case.id)), strict=True):
            case.assignee = CASES[name][5]
            out[name] = case.id
    return out


def listed(rt: Runtime, clock: Clock, ids: dict[str, int], **args: str) -> list[str]:
    names = {v: k for k, v in ids.items()}
    with rt.db.session() as s:
        now = clock()
        q = caselist.parse_query(args)
        got = caselist.cases(s, q, now, workflow.overdue(rt.settings, now))
    return [names[item["id"]] for item in got["items"]]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({}, ["luis_late", "ana_taken", "untaken", "fresh"]),  # unresolved, oldest first
        ({"status": "open"}, ["untaken", "fresh"]),
        ({"status": "taken"}, ["luis_late", "ana_taken"]),
        ({"status": "resolved"}, ["done"]),
        ({"status": "all"}, ["done", "luis_late", "ana_taken", "untaken", "fresh"]),
        ({"assignee": "Ana", "status": "all"}, ["done", "ana_taken"]),
        ({"assignee": "nobody"}, ["untaken", "fresh"]),
        ({"store": "centro"}, ["ana_taken", "fresh"]),
        ({"channel": "whatsapp"}, ["luis_late", "untaken"]),
        ({"score": "0-3"}, ["untaken", "fresh"]),
        ({"score": "5"}, ["ana_taken"]),
        ({"age": "1h"}, ["luis_late", "ana_taken", "untaken"]),
        ({"age": "1d"}, ["luis_late"]),
        ({"age": "19h", "channel": "telegram"}, ["ana_taken"]),
    ],
)
def test_each_filter_narrows_the_list(
    rt: Runtime, clock: Clock, ids: dict[str, int], args: dict[str, str], expected: list[str]
) -> None:
    assert listed(rt, clock, ids, **args) == expected


@pytest.mark.parametrize(
    ("sort", "direction", "expected"),
    [
        ("age", "desc", ["done", "luis_late", "ana_taken", "untaken", "fresh"]),
        ("age", "asc", ["fresh", "untaken", "ana_taken", "luis_late", "done"]),
        ("score", "desc", ["luis_late", "ana_taken", "fresh", "done", "untaken"]),
        ("score", "asc", ["untaken", "done", "fresh", "ana_taken", "luis_late"]),
        # Open before taken before resolved; the oldest first within a status.
        ("status", "asc", ["untaken", "fresh", "luis_late", "ana_taken", "done"]),
        ("status", "desc", ["done", "luis_late", "ana_taken", "untaken", "fresh"]),
    ],
)
def test_the_list_sorts_by_age_score_and_status_both_ways(
    rt: Runtime, clock: Clock, ids: dict[str, int], sort: str, direction: str, expected: list[str]
) -> None:
    assert listed(rt, clock, ids, status="all", sort=sort, dir=direction) == expected


def test_last_activity_is_the_latest_case_event_else_the_case_itself(
    rt: Runtime, clock: Clock, ids: dict[str, int]
) -> None:
    now = clock()
    with rt.db.session() as s:
        # The oldest case was touched a minute ago; another an hour ago.
        s.add(CaseEvent(case_id=ids["done"], kind="reopened", at=now - timedelta(minutes=1)))
        s.add(CaseEvent(case_id=ids["ana_taken"], kind="taken", at=now - timedelta(hours=1)))
    got = listed(rt, clock, ids, status="all", sort="activity", dir="desc")
    assert got == ["done", "fresh", "ana_taken", "untaken", "luis_late"]
    assert listed(rt, clock, ids, status="all", sort="activity", dir="asc") == got[::-1]


def overdue_now(rt: Runtime, clock: Clock, ids: dict[str, int]) -> set[str]:
    return set(listed(rt, clock, ids, status="all", overdue="yes"))


def test_overdue_is_the_escalation_rule_as_the_clock_moves(
    rt: Runtime, clock: Clock, ids: dict[str, int]
) -> None:
    # Defaults: 30 minutes to take an open case, 24 hours to resolve any case.
    assert rt.settings.staff_take_minutes == 30 and rt.settings.staff_resolve_hours == 24
    assert overdue_now(rt, clock, ids) == {"untaken", "luis_late"}
    clock.advance(minutes=25)  # the fresh case is 35 minutes old and nobody took it
    assert overdue_now(rt, clock, ids) == {"fresh", "untaken", "luis_late"}
    clock.advance(hours=4)  # Ana's case is 24 h 25 min old and still unresolved
    assert overdue_now(rt, clock, ids) == {"fresh", "untaken", "ana_taken", "luis_late"}
    clock.advance(hours=48)  # a resolved case is never overdue
    assert "done" not in overdue_now(rt, clock, ids)


def test_each_row_says_whether_it_is_overdue_as_the_filter_does(
    rt: Runtime, clock: Clock, ids: dict[str, int]
) -> None:
    for hours in (0, 1, 5, 30):
        clock.advance(hours=hours)
        with rt.db.session() as s:
            now = clock()
            q = caselist.parse_query({"status": "all"})
            items = caselist.cases(s, q, now, workflow.overdue(rt.settings, now))["items"]
        flagged = {item["id"] for item in items if item["overdue"]}
        assert flagged == {ids[n] for n in overdue_now(rt, clock, ids)}


def test_the_counts_per_status_follow_the_other_filters(
    rt: Runtime, clock: Clock, ids: dict[str, int]
) -> None:
    def counts(**args: str) -> dict[str, Any]:
        with rt.db.session() as s:
            now = clock()
            q = caselist.parse_query(args)
            got = caselist.cases(s, q, now, workflow.overdue(rt.settings, now))
        return {"counts": got["counts"], "total": got["total"]}

    assert counts() == {"counts": {"open": 2, "taken": 2, "resolved": 1}, "total": 4}
    assert counts(store="norte") == {"counts": {"open": 1, "taken": 0, "resolved": 1}, "total": 1}
    assert counts(status="resolved", assignee="Ana")["total"] == 1


def test_pages_hold_fifty_cases_in_a_stable_order(rt: Runtime, clock: Clock) -> None:
    now = clock()
    # Pairs created at the same instant: the id keeps the order stable across pages.
    seed(rt, [Answer(3, now - timedelta(hours=i // 2), case="open") for i in range(120)])
    seen: list[int] = []
    with rt.db.session() as s:
        for page in (1, 2, 3, 4):
            q = caselist.parse_query({"page": str(page)})
            got = caselist.cases(s, q, now, workflow.overdue(rt.settings, now))
            assert got["pages"] == 3 and got["total"] == 120
            seen += [item["id"] for item in got["items"]]
    assert len(seen) == 120 and len(set(seen)) == 120


def test_the_assignee_menu_lists_everyone_who_has_or_had_a_case(
    rt: Runtime, ids: dict[str, int]
) -> None:
    with rt.db.session() as s:
        assert caselist.assignees(s) == ["Ana", "Luis"]

"""Follow-up metrics on SQLite and PostgreSQL: cases taken and resolved through the workflow at
known times (the `clock`), then read back overall, by store and by agent, with the recovery of
detractors who answered again after their case was resolved.

The story, from T0 (a Sunday, 09:00 UTC); targets 30 min to take, 24 h to resolve:

    case  store   score  who   take    resolve                    customer then
    c1    centro  3      Ana   10 min  2 h                        Marta: 9 after 10 d, 5 after 20 d
    c2    centro  2      Ana   40 min  30 h (late)                Pedro: 8 before the resolution
    c3    centro  6      Luis  20 min  20 min (resolved at once)  Rosa: 4 by SMS after 3 d
    c4    norte   4      Luis  5 min   1 h, reopened at 3 h, open at 48 h (overdue)
    c5    norte   1      —     open since 47 h
    c6    —       5      Ana   15 min  4 h, reopened at 5 h, resolved again at 6 h
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.insights.filters import FilterError, Filters, parse_filters
from bot.insights.followup import report
from bot.runtime import Runtime
from bot.staff.cases import Actor
from bot.staff.desk import act
from bot.storage.models import Case, CaseEvent
from tests.conftest import Clock
from tests.integration.insights.seed import Answer, seed

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=48)
ANA, LUIS = Actor("101", "Ana"), Actor("102", "Luis")


def at(clock: Clock, **delta: float) -> None:
    clock.now = T0 + timedelta(**delta)


def case_of(rt: Runtime, response_id: int) -> int:
    with rt.db.session() as s:
        case_id = s.scalar(select(Case.id).where(Case.response_id == response_id))
    assert case_id is not None
    return case_id


@pytest.fixture
def story(rt: Runtime, clock: Clock) -> dict[str, int]:
    """The table above, made through `bot.staff.desk.act` as the dashboard makes it."""
    rows = [
        ("c1", 3, "centro", "Marta"),
        ("c2", 2, "centro", "Pedro"),
        ("c3", 6, "centro", "Rosa"),
        ("c4", 4, "norte", "Sofía"),
        ("c6", 5, None, "Juan"),
    ]
    ids = seed(
        rt,
        [Answer(sc, T0, store=st, case="open", customer=who) for _, sc, st, who in rows],
    )
    c = {name: case_of(rt, rid) for (name, *_), rid in zip(rows, ids, strict=True)}
    steps: list[tuple[float, str, str, Actor]] = [
        (5, "c4", "take", LUIS),
        (10, "c1", "take", ANA),
        (15, "c6", "take", ANA),
        (20, "c3", "resolve", LUIS),  # resolved at once: taken when resolved
        (40, "c2", "take", ANA),
        (60, "c4", "resolve", LUIS),
        (120, "c1", "resolve", ANA),
        (180, "c4", "reopen", LUIS),
        (240, "c6", "resolve", ANA),
        (300, "c6", "reopen", ANA),
        (360, "c6", "resolve", ANA),
        (30 * 60, "c2", "resolve", ANA),
    ]
    for minutes, name, action, actor in steps:
        at(clock, minutes=minutes)
        act(rt, c[name], action, actor, "called_back" if action == "resolve" else None)
    (c5,) = seed(rt, [Answer(1, T0 + timedelta(hours=47), store="norte", case="open")])
    c["c5"] = case_of(rt, c5)
    # The customers answer other surveys: before and after their case was resolved.
    seed(
        rt,
        [
            Answer(8, T0 + timedelta(hours=1), customer="Pedro"),
            Answer(9, T0 + timedelta(days=10), customer="Marta"),
            Answer(5, T0 + timedelta(days=20), customer="Marta"),
            Answer(4, T0 + timedelta(days=3), channel="sms", customer="Rosa"),
            Answer(10, T0 + timedelta(days=4), customer="Sofía"),
        ],
    )
    clock.now = NOW
    return c


def followup(rt: Runtime, f: Filters | None = None, **kw: Any) -> dict[str, Any]:
    with rt.db.session() as s:
        return report(s, f or Filters(), NOW, rt.settings, **kw)


def test_time_to_take_and_to_resolve_are_median_and_p90_in_minutes(
    rt: Runtime, story: dict[str, int]
) -> None:
    o = followup(rt)["overall"]
    # Taken after 5, 10, 15, 20, 40 min (c5 nobody): p90 lies 0.6 of the way from 20 to 40.
    assert o["time_to_take"] == {"count": 5, "median_minutes": 15.0, "p90_minutes": 32.0}
    # Resolved after 20 min, 2 h, 6 h (c6's last resolution), 30 h; c4 was reopened: unresolved.
    assert o["time_to_resolve"] == {"count": 4, "median_minutes": 240.0, "p90_minutes": 1368.0}
    assert (o["cases"], o["resolved"], o["reopened"], o["overdue"]) == (6, 4, 2, 1)


def test_in_time_shares_count_decided_cases_against_the_escalation_targets(
    rt: Runtime, story: dict[str, int]
) -> None:
    assert (rt.settings.staff_take_minutes, rt.settings.staff_resolve_hours) == (30, 24)
    body = followup(rt)
    assert (body["take_target_minutes"], body["resolve_target_hours"]) == (30, 24)
    o = body["overall"]
    # Late takes: c2 (40 min) and c5, open for an hour with nobody on it.
    assert o["taken_in_time"] == {"within": 4, "decided": 6, "share": round(4 / 6, 4)}
    # Late: c2 (30 h) and c4 (unresolved at 48 h). c5 is an hour old: not decided yet.
    assert o["resolved_in_time"] == {"within": 3, "decided": 5, "share": 0.6}


def test_a_young_case_becomes_late_once_past_the_target(rt: Runtime, story: dict[str, int]) -> None:
    with rt.db.session() as s:
        later = report(s, Filters(), T0 + timedelta(hours=71, minutes=1), rt.settings)
    o = later["overall"]
    assert o["resolved_in_time"] == {"within": 3, "decided": 6, "share": 0.5}
    assert o["overdue"] == 2  # c4 and now c5


def test_by_store_and_by_agent(rt: Runtime, story: dict[str, int]) -> None:
    body = followup(rt)
    stores = {g["value"]: g for g in body["by_store"]}
    assert [g["value"] for g in body["by_store"]] == ["centro", "norte", None]  # biggest first
    assert stores["centro"]["time_to_take"]["median_minutes"] == 20.0  # 10, 20, 40
    assert stores["centro"]["resolved_in_time"]["within"] == 2
    assert stores["norte"]["overdue"] == 1 and stores["norte"]["resolved"] == 0
    assert stores[None]["time_to_resolve"]["median_minutes"] == 360.0
    agents = {g["agent"]: g for g in body["by_agent"]}
    assert [(g["agent"], g["name"], g["cases"]) for g in body["by_agent"]] == [
        ("101", "Ana", 3),
        ("102", "Luis", 2),
        (None, None, 1),
    ]
    assert agents["101"]["time_to_resolve"]["median_minutes"] == 360.0  # 2 h, 6 h, 30 h
    assert agents["102"]["reopened"] == 1 and agents["102"]["resolved"] == 1


def test_filters_select_the_cases_and_by_meta_picks_the_store_key(
    rt: Runtime, story: dict[str, int]
) -> None:
    with rt.db.session() as s:
        f = parse_filters({"store": "norte"})
        norte = report(s, f, NOW, rt.settings)
        assert norte["overall"]["cases"] == 2 and norte["filters"]["metadata"] == {"store": "norte"}
        # Dates are when the score was given: c5's came at 47 h.
        first_day = report(s, parse_filters({"to": "2026-11-22"}), NOW, rt.settings)
        assert first_day["overall"]["cases"] == 5
        region = report(s, Filters(), NOW, rt.settings, store_key="region")
        assert region["store_key"] == "region"
        assert [(g["value"], g["cases"]) for g in region["by_store"]] == [(None, 6)]
        with pytest.raises(FilterError) as bad:
            report(s, Filters(), NOW, rt.settings, store_key="a b")
        assert bad.value.param == "by_meta"


def test_recovery_counts_detractors_who_answered_again_after_the_resolution(
    rt: Runtime, story: dict[str, int]
) -> None:
    r = followup(rt)["recovery"]
    # Resolved detractor cases: c1, c2, c3, c6. Marta (c1) and Rosa (c3, by SMS) answered
    # again afterwards; Pedro only before his case was resolved; Sofía's case (c4) is open.
    assert (r["resolved_detractors"], r["answered_again"], r["share"]) == (4, 2, 0.5)
    assert r["average_change"] == 2.0  # (+6 − 2) / 2
    assert [
        (i["case_id"], i["before"], i["after"], i["change"], i["days_between"]) for i in r["items"]
    ] == [
        (story["c1"], 3, 9, 6, 10.0),  # her first answer after the resolution, not the 5
        (story["c3"], 6, 4, -2, 3.0),
    ]


def test_recovery_follows_the_case_filters_not_the_later_answer(
    rt: Runtime, story: dict[str, int]
) -> None:
    with rt.db.session() as s:
        first_day = report(s, parse_filters({"to": "2026-11-22"}), NOW, rt.settings)["recovery"]
        centro = report(s, parse_filters({"store": "centro"}), NOW, rt.settings, limit=1)
    assert first_day["answered_again"] == 2  # the later answers fall outside `to`: still counted
    rec = centro["recovery"]
    assert (rec["resolved_detractors"], rec["answered_again"], len(rec["items"])) == (3, 2, 1)


def test_no_cases_gives_empty_metrics(rt: Runtime) -> None:
    body = followup(rt)
    assert body["overall"]["time_to_take"] == {
        "count": 0,
        "median_minutes": None,
        "p90_minutes": None,
    }
    assert body["overall"]["resolved_in_time"]["share"] is None
    assert body["by_store"] == body["by_agent"] == []
    assert body["recovery"]["share"] is None and body["recovery"]["items"] == []


def test_a_case_without_taken_at_counts_from_its_first_staff_action(rt: Runtime) -> None:
    """Rows written before `taken_at` was kept: the first take, resolve or staff reply event."""
    (rid,) = seed(rt, [Answer(3, T0, case="open")])
    case_id = case_of(rt, rid)
    with rt.db.session() as s:
        for kind, minutes in (("queued", 1), ("staff_reply", 25), ("taken", 40)):
            s.add(CaseEvent(case_id=case_id, kind=kind, at=T0 + timedelta(minutes=minutes)))
    take = followup(rt)["overall"]["time_to_take"]
    assert (take["count"], take["median_minutes"]) == (1, 25.0)

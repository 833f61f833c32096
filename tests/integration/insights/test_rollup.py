"""The insights rollup: every report answers exactly what the raw queries answer, on SQLite and
PostgreSQL, for random data, filters and edge timestamps, and new or changed answers show up
before the next refresh."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from bot.insights import filters, lists, plan, reports, rollup
from bot.runtime import Runtime
from bot.storage.models import (
    Invitation,
    InvitationState,
    NpsDay,
    NpsStoreMonth,
    RateDay,
    Response,
    Survey,
)
from tests.conftest import Clock
from tests.integration.insights.seed import Answer, seed

THEMES = ["delivery", "price", "staff", "wait"]
STORES = ["centro", "norte", "sur", None]
TODAY = date(2026, 11, 22)  # the `clock` fixture's day


def midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def random_answers(rng: random.Random, n: int) -> list[Answer]:
    """Answers over the ~100 days before now, a fifth of them on day edges (00:00:00.000000,
    23:59:59.999999), some unanswered, late or after an opt-out."""
    answers = []
    for _ in range(n):
        day = TODAY - timedelta(days=rng.randrange(0, 100))
        at = midnight(day) + timedelta(seconds=rng.randrange(86400))
        edge = rng.random()
        if edge < 0.1:
            at = midnight(day)
        elif edge < 0.2:
            at = midnight(day) + timedelta(days=1, microseconds=-1)
        score = None if rng.random() < 0.15 else rng.randrange(11)
        commented = score is not None and rng.random() < 0.5
        state = None
        if score is not None and rng.random() < 0.05:
            state = InvitationState.OPTED_OUT
        answers.append(
            Answer(
                score,
                at,
                channel=rng.choice(["whatsapp", "sms", "telegram"]),
                comment=rng.choice(["ok", "slow", ""]) if commented else None,
                themes=rng.sample(THEMES, rng.randrange(3)) if commented else [],
                store=rng.choice(STORES),
                language=rng.choice(["es", "en"]),
                survey=rng.choice(["post-purchase", "delivery"]),
                state=state,
                late=score is not None and rng.random() < 0.05,
            )
        )
    return answers


# Labelled filters: (label, query arguments).
FILTERS: list[tuple[str, dict[str, str]]] = [
    ("everything", {}),
    ("from a midnight", {"from": "2026-10-01"}),
    ("from mid-day", {"from": "2026-10-01T13:30:00Z"}),
    ("to a date (inclusive)", {"to": "2026-11-01"}),
    ("to mid-day", {"to": "2026-11-01T08:15:00Z"}),
    ("to an exact midnight", {"to": "2026-11-01T00:00:00Z"}),
    ("within one day", {"from": "2026-10-10T06:00:00Z", "to": "2026-10-10T18:00:00Z"}),
    ("one whole day", {"from": "2026-10-10", "to": "2026-10-10"}),
    ("offset timestamps", {"from": "2026-09-30T22:00:00-03:00", "to": "2026-11-05T01:00:00+02:00"}),
    ("including today", {"from": "2026-11-15T12:00:00Z"}),
    ("only today", {"from": "2026-11-22"}),
    ("in the future", {"from": "2026-12-01"}),
    ("channel", {"channel": "sms"}),
    ("two channels and a survey", {"channel": "sms,telegram", "survey": "delivery"}),
    ("language", {"language": "en"}),
    ("category", {"category": "detractor,passive"}),
    ("store", {"store": "norte"}),
    ("meta.store, from mid-day", {"meta.store": "sur", "from": "2026-09-15T10:00:00Z"}),
    (
        "store, channel, category",
        {"store": "centro", "channel": "whatsapp", "category": "promoter"},
    ),
    ("store with no answers", {"store": "nowhere"}),
    ("has_comment (raw path)", {"has_comment": "true"}),
    ("another metadata key (raw path)", {"sku": "x"}),
]


def everything(s: Any, f: filters.Filters) -> dict[str, Any]:
    return {
        "distribution": reports.distribution(s, f),
        "rate": reports.response_rate(s, f),
        "report": reports.nps_report(s, f),
        "trend": [reports.trend(s, f, i) for i in filters.INTERVALS],
        "themes": reports.themes(s, f),
        "by": {
            by: reports.breakdown(s, f, by)
            for by in ("channel", "survey", "language", "store", "meta.store", "sku")
        },
    }


def compare(rt: Runtime, args: dict[str, str], label: str = "") -> dict[str, Any]:
    f = filters.parse_filters(args)
    with rt.db.session() as s:
        rollup.raw_only(s)
        raw = everything(s, f)
    with rt.db.session() as s:
        rolled = everything(s, f)
        assert rollup.rollup_view(s) is not None
    assert rolled == raw, label
    return rolled


def refresh(rt: Runtime, today: date = TODAY) -> rollup.Refreshed:
    # No margin: what this test wrote before is in the refresh's snapshot (it committed).
    with rt.db.session_for_update() as s:
        return rollup.refresh_rollup(s, today, margin=timedelta(0))


@pytest.fixture
def filled(rt: Runtime) -> list[int]:
    with rt.db.session() as s:
        s.add(Survey(key="delivery", name="Delivery"))
    ids = seed(rt, random_answers(random.Random(9), 300))
    with rt.db.session() as s:
        # A store that is a JSON number: grouped as "7", never matched by `store=7`.
        inv = s.scalar(select(Invitation).order_by(Invitation.id).limit(1))
        assert inv is not None
        inv.meta = {"store": 7}
    return ids


def test_rollup_answers_equal_the_raw_queries_for_every_labelled_filter(
    rt: Runtime, filled: list[int]
) -> None:
    done = refresh(rt)
    assert done.upto == TODAY and not done.behind
    with rt.db.session() as s:
        view = rollup.rollup_view(s)
        assert view is not None and not view.dirty and not rollup.dirty_sent(s, view)
    for label, args in FILTERS:
        result = compare(rt, args, label)
        if label == "everything":
            assert result["report"]["responses"] > 200
        if "store" not in args:
            compare(rt, {**args, "store": "7"}, f"{label}, store=7 (a JSON number)")


def test_before_the_first_refresh_every_report_reads_the_raw_tables(
    rt: Runtime, filled: list[int]
) -> None:
    with rt.db.session() as s:
        assert rollup.rollup_view(s) is None
        assert s.scalar(select(func.count()).select_from(NpsDay)) == 0


def test_a_backfill_in_chunks_is_exact_after_every_chunk(rt: Runtime, filled: list[int]) -> None:
    rounds = 0
    while True:
        with rt.db.session_for_update() as s:
            done = rollup.refresh_rollup(s, TODAY, max_days=30, margin=timedelta(0))
        rounds += 1
        compare(rt, {})
        compare(rt, {"from": "2026-09-01T12:00:00Z", "store": "norte"})
        if not done.behind:
            break
    assert rounds >= 4  # 100 days, 30 at a time


def test_the_store_breakdown_reads_whole_months_from_the_monthly_table(
    rt: Runtime, filled: list[int]
) -> None:
    refresh(rt)
    with rt.db.session() as s:
        split = plan.plan_for(s, filters.parse_filters({}), by_store=True)
        assert split is not None
        # Whole months, and the current one up to the rollup's end (today is read raw).
        assert {date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1)} <= set(split[0].months)
        assert split[0].raw == ((midnight(TODAY), None),)
        months = s.scalar(select(func.sum(NpsStoreMonth.responses)))
        daily = s.scalar(
            select(func.sum(NpsDay.responses)).where(
                NpsDay.day >= min(split[0].months), NpsDay.day < date(2026, 11, 1)
            )
        )
        first = s.scalar(select(func.min(NpsStoreMonth.day)))
        assert months is not None and daily is not None and first is not None
        assert months >= daily  # the months hold every rolled-up day


def test_a_new_answer_today_shows_up_without_a_refresh(
    rt: Runtime, filled: list[int], clock: Clock
) -> None:
    refresh(rt)
    before = compare(rt, {})["report"]["responses"]
    seed(rt, [Answer(10, clock(), channel="sms", store="norte", comment="great", themes=["staff"])])
    assert compare(rt, {})["report"]["responses"] == before + 1
    assert compare(rt, {"store": "norte", "from": "2026-11-01"})["by"]["store"][0]["value"] == (
        "norte"
    )


def test_an_answer_stored_on_a_rolled_up_day_shows_up_at_once(
    rt: Runtime, filled: list[int]
) -> None:
    refresh(rt)
    day = date(2026, 10, 10)
    before = compare(rt, {"from": "2026-10-10", "to": "2026-10-10"})
    seed(rt, [Answer(0, midnight(day) + timedelta(hours=5), store="sur", themes=["wait"])])
    after = compare(rt, {"from": "2026-10-10", "to": "2026-10-10"})
    assert after["distribution"][0] == before["distribution"][0] + 1
    with rt.db.session() as s:
        view = rollup.rollup_view(s)
        assert view is not None and day in view.dirty and day in rollup.dirty_sent(s, view)
    # The next refresh rebuilds the day: the rollup itself now counts the answer.
    refresh(rt)
    with rt.db.session() as s:
        rolled = s.scalar(
            select(func.sum(NpsDay.responses)).where(NpsDay.day == day, NpsDay.score == 0)
        )
    assert rolled == after["distribution"][0]
    compare(rt, {"from": "2026-10-10", "to": "2026-10-10"})


def test_a_corrected_score_and_a_later_comment_show_up_at_once(
    rt: Runtime, filled: list[int]
) -> None:
    refresh(rt)
    with rt.db.session() as s:
        old = s.scalars(
            select(Response).where(Response.scored_at < midnight(TODAY - timedelta(days=20)))
        ).first()
        assert old is not None
        day, score = old.scored_at.date(), old.score
        old.score, old.category = (0, "detractor") if score else (10, "promoter")
        old.comment, old.themes = "very slow", ["wait", "novel-theme"]
    args = {"from": day.isoformat(), "to": day.isoformat()}
    result = compare(rt, args)
    assert "novel-theme" in {t["theme"] for t in result["themes"]["themes"]}
    refresh(rt)
    compare(rt, args)


def test_an_invitation_answered_or_expired_later_changes_the_rate_at_once(
    rt: Runtime, filled: list[int]
) -> None:
    refresh(rt)
    with rt.db.session() as s:
        waiting = s.scalars(
            select(Invitation).where(Invitation.state == InvitationState.ASKED)
        ).first()
        assert waiting is not None
        sent = waiting.sent_at
        assert sent is not None
        waiting.state = InvitationState.COMPLETED
    rate = compare(rt, {"from": sent.date().isoformat(), "to": sent.date().isoformat()})["rate"]
    assert rate["answered"] >= 1
    with rt.db.session() as s:
        # Core updates set `updated_at` too (the dispatcher's bulk writes).
        s.execute(
            update(Invitation)
            .where(Invitation.id == waiting.id)
            .values(state=InvitationState.EXPIRED)
        )
    compare(rt, {"from": sent.date().isoformat(), "to": sent.date().isoformat()})
    refresh(rt)
    with rt.db.session() as s:
        assert s.scalar(select(func.sum(RateDay.delivered))) is not None
    compare(rt, {})


def test_open_cases_are_the_oldest_open_or_taken_merged_with_counts_and_ages(
    rt: Runtime, clock: Clock
) -> None:
    now = clock()
    statuses = ["open", "taken", "resolved", "taken", "open", "open"]
    seed(
        rt,
        [
            Answer(2, now - timedelta(hours=10 * (i + 1)), case=status, channel="sms")
            for i, status in enumerate(statuses)
        ],
    )
    with rt.db.session() as s:
        cases = lists.open_cases(s, filters.Filters(), now, limit=4)
        whatsapp_only = lists.open_cases(s, filters.parse_filters({"channel": "whatsapp"}), now)
    assert (cases["open"], cases["taken"]) == (3, 2)
    # Oldest first across both statuses: created 60, 50, 40 and 20 hours ago.
    assert [c["age_hours"] for c in cases["items"]] == [60.0, 50.0, 40.0, 20.0]
    assert [c["status"] for c in cases["items"]] == ["open", "open", "taken", "taken"]
    assert cases["items"][0]["score"] == 2 and cases["items"][0]["channel"] == "sms"
    assert whatsapp_only == {"open": 0, "taken": 0, "items": []}

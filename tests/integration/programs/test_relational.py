"""A relational survey measures the whole base continuously: 1,000 contacts, every 90 days,
a daily cap, simulated day by day over 180 days with the clock moved (no sleeping), on SQLite
and PostgreSQL, through the worker's own function (`run_programs`, what every pass calls)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from bot.events import RecordingBus
from bot.runtime import Runtime
from bot.storage.models import Contact, Invitation, ProgramRun, Survey
from bot.storage.models import InvitationState as S
from bot.survey.customers import Customer
from bot.survey.program_run import counts, preview, run_day, run_programs
from bot.survey.purchases import Purchase, new_invitation, register_purchase
from bot.survey.rules import contact_zone, in_quiet
from bot.web.app import create_app
from tests.conftest import Clock, make_settings
from tests.e2e.channels.rows_sms import settings as twilio_settings

BASE = 1000
SURVEYS = """
[[survey]]
key = "post-purchase"
name = "After a purchase"
channels = ["sms"]
resurvey_days = 0

[[survey]]
key = "base"
name = "Our customers, every quarter"
kind = "relational"
cadence_days = 90
daily_cap = 12
delay_minutes = 0
resurvey_days = 0
channels = ["sms"]
[survey.audience]
attributes = {segment = ["gold", "silver"]}
"""
ZONES = ("America/Mexico_City", "Europe/Madrid", None)  # None: the phone's country (Mexico)
QUIET = (time(21), time(9))  # the survey's (default) quiet hours
FATIGUE = 30


@pytest.fixture
def app(database_url: str, clock: Clock, bus: RecordingBus, tmp_path: Path) -> Iterator[Flask]:
    surveys = tmp_path / "surveys.toml"
    surveys.write_text(SURVEYS, encoding="utf-8")
    env = make_settings(
        database_url,
        **twilio_settings("http://127.0.0.1:9"),
        SURVEYS_FILE=str(surveys),
        CONTACT_FATIGUE_DAYS=str(FATIGUE),
    )
    app = create_app(env, bus=bus)
    app.extensions["npsbot"].clock = clock
    yield app
    app.extensions["npsbot"].close()


def _seed(rt: Runtime, n: int = BASE, outside: int = 200) -> None:
    """N gold and silver contacts (the audience) and some bronze ones (not in it)."""
    with rt.db.session() as s:
        for i in range(n + outside):
            segment = "bronze" if i >= n else ("gold", "silver")[i % 2]
            s.add(
                Contact(
                    external_id=f"C-{i}",
                    name=f"Customer {i}",
                    phone=f"+5255{10_000_000 + i}",
                    language="es",
                    timezone=ZONES[i % 3],
                    attributes={"segment": segment},
                )
            )


def _answer_all(rt: Runtime) -> None:
    """Every scheduled survey went out at its due time and was answered."""
    with rt.db.session() as s:
        s.execute(
            update(Invitation)
            .where(Invitation.state == S.SCHEDULED)
            .values(state=S.COMPLETED, sent_at=Invitation.due_at)
        )


def test_180_days_ask_a_90th_of_the_base_a_day_nobody_twice_in_the_cadence(
    rt: Runtime, clock: Clock
) -> None:
    _seed(rt)
    start = datetime(2026, 11, 22, tzinfo=UTC)
    fatigued: set[int] = set()
    for day in range(180):
        # Each day's pass at another hour: day and night in Mexico City and Madrid.
        clock.now = start + timedelta(days=day, hours=(day * 7) % 24, minutes=13)
        if day == 80:
            # A transactional survey (a purchase) reaches the contacts first asked on days 0-4,
            # ten days before the program is due to ask them again: fatigue holds them.
            with rt.db.session() as s:
                first = s.scalars(
                    select(Invitation.contact_id).where(
                        Invitation.meta["program"].as_string() == "base",
                        Invitation.created_at < start + timedelta(days=5),
                    )
                ).all()
                survey = s.scalar(select(Survey).where(Survey.key == "post-purchase"))
                assert survey is not None
                for cid in first:
                    contact = s.get(Contact, cid)
                    assert contact is not None
                    new_invitation(rt, s, survey, contact, ["sms"], clock(), order_id=f"O-{cid}")
                fatigued = set(first)
            _answer_all(rt)
        run_programs(rt, clock())
        assert run_programs(rt, clock()) == 0  # a second pass (or worker) the same day: nothing
        _answer_all(rt)

    with rt.db.session() as s:
        rows = s.execute(
            select(Invitation, Contact)
            .join(Contact, Contact.id == Invitation.contact_id)
            .order_by(Invitation.id)
        ).all()
        runs = s.scalars(select(ProgramRun).order_by(ProgramRun.day)).all()
    assert len(runs) == 180  # one claimed run per day
    program = [(inv, c) for inv, c in rows if inv.meta.get("program") == "base"]
    assert all(inv.order_id is None for inv, _ in program)  # no order: NULL, not a made-up one
    assert {c.attributes["segment"] for _, c in program} == {"gold", "silver"}  # the audience
    per_day = Counter((inv.created_at - start).days for inv, _ in program)
    # Tolerance: each day asks ⌊1000/90⌋ or ⌈1000/90⌉ (11 or 12, the cap), except the days the
    # fatigued contacts would have been asked, which ask fewer by at most their number.
    held = {90 + d for d in range(5)}
    for day in range(180):
        assert per_day[day] <= 12
        assert per_day[day] >= (11 - len(fatigued) if day in held else 11), day
    assert sum(per_day[d] for d in range(90)) == BASE  # the first cadence asks everyone once
    # Nobody twice within the cadence; nobody within FATIGUE days of any other survey.
    sent: dict[int, list[datetime]] = defaultdict(list)
    asked: dict[int, datetime] = {}
    for inv, c in rows:
        assert inv.sent_at is not None
        if inv.meta.get("program") == "base":
            earlier = [t for t in sent[c.id] if t <= inv.created_at]
            assert not earlier or inv.created_at - max(earlier) >= timedelta(days=FATIGUE)
            if c.id in asked:
                assert (inv.created_at.date() - asked[c.id].date()).days >= 90
            asked[c.id] = inv.created_at
        sent[c.id].append(inv.sent_at)
    # The fatigued ones were asked again, once their 30 days had passed.
    again = {c.id for inv, c in program if inv.created_at >= start + timedelta(days=90)}
    assert fatigued <= again
    # Quiet hours: every program survey is due outside 21:00-09:00 in the customer's zone.
    for inv, c in program:
        assert inv.due_at >= inv.created_at
        assert not in_quiet(inv.due_at.astimezone(contact_zone(c)).time(), QUIET)


def test_the_cap_and_the_preview_say_who_is_asked_and_why_not_the_others(
    rt: Runtime, clock: Clock
) -> None:
    _seed(rt, n=100, outside=10)
    with rt.db.session_for_update() as s:
        survey = s.scalar(select(Survey).where(Survey.key == "base"))
        assert survey is not None
        survey.options = {**survey.options, "cadence_days": 10, "daily_cap": 4}
    days, members = preview(rt, "base", 3, clock())
    assert [len(d.plan.chosen) for d in days] == [4, 4, 4]  # the cap, below the share of 10
    assert counts(days[0].plan.reasons) == {"daily_cap": 6, "later_day": 90}
    assert counts(days[1].plan.reasons)["surveyed_recently"] == 4  # day 0's, in the preview
    assert days[0].outside == 10
    assert members[days[0].plan.chosen[0]].name == "Customer 0"
    assert run_programs(rt, clock()) == 4
    again, _ = preview(rt, "base", 1, clock())
    assert again[0].day == days[1].day  # today's run is done: the preview starts tomorrow
    assert again[0].plan.chosen == days[1].plan.chosen
    with pytest.raises(KeyError):
        preview(rt, "post-purchase", 1, clock())


def test_a_day_is_claimed_once_even_by_a_worker_that_read_it_as_undone(
    rt: Runtime, clock: Clock
) -> None:
    _seed(rt, n=90, outside=0)
    assert run_programs(rt, clock()) == 1  # 90 contacts, 90 days: one today
    with rt.db.session() as s:
        survey_id = s.scalar(select(Survey.id).where(Survey.key == "base"))
    assert survey_id is not None
    # A second worker that read "not run yet" just before the first committed: its claim fails
    # and nothing it planned is stored.
    with pytest.raises(IntegrityError):
        run_day(rt, survey_id, clock(), clock().date())
    with rt.db.session() as s:
        assert len(s.scalars(select(Invitation)).all()) == 1
        assert len(s.scalars(select(ProgramRun)).all()) == 1


def test_a_purchase_inside_the_fatigue_days_of_a_relational_survey_is_skipped(
    rt: Runtime, clock: Clock
) -> None:
    _seed(rt, n=1, outside=0)
    with rt.db.session_for_update() as s:
        survey = s.scalar(select(Survey).where(Survey.key == "base"))
        assert survey is not None
        survey.options = {**survey.options, "cadence_days": 1}  # one contact: asked today
    assert run_programs(rt, clock()) == 1
    _answer_all(rt)
    clock.advance(days=FATIGUE - 1)
    customer = Customer(id="C-0")
    out = register_purchase(rt, Purchase(order_id="A-1", customer=customer, channels=("sms",)))
    assert (out.invitation.state, out.invitation.skip_reason) == ("skipped", "fatigue")
    clock.advance(days=1)
    out = register_purchase(rt, Purchase(order_id="A-2", customer=customer, channels=("sms",)))
    assert (out.invitation.state, out.invitation.skip_reason) == ("scheduled", None)

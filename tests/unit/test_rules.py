"""The survey rules, as pure functions over loaded facts (`bot.survey.rules`).

Time-dependent rules are checked at several hours of the day and across DST changes, never at
one frozen hour."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.survey.rules import (
    DEFAULT_QUIET,
    NO_QUIET,
    History,
    Reach,
    choose_channel,
    due_at,
    in_session_window,
    needs_consent,
    outside_quiet_hours,
    present,
    send_quiet,
    skip_reason,
    timing,
    unconsented,
)

DAY = datetime(2026, 6, 10, tzinfo=UTC)
NEW_YORK = ZoneInfo("America/New_York")
CLEAN = History(in_flight=0, last_sent=None, stopped=frozenset())


def at(hh_mm: str, day: datetime = DAY) -> datetime:
    t = time.fromisoformat(hh_mm)
    return day.replace(hour=t.hour, minute=t.minute)


# --- due time: delay, never in the past, outside the quiet hours ------------------------------


@pytest.mark.parametrize(
    ("now", "due"),
    [
        ("03:00", "09:00"),  # inside 21:00-09:00: the end of the quiet hours
        ("09:00", "09:00"),  # the end itself is no longer quiet
        ("15:00", "15:00"),
        ("20:59", "20:59"),
        ("21:00", "09:00+1"),  # the start is quiet
        ("23:30", "09:00+1"),  # spans midnight: the next morning
    ],
)
def test_a_survey_due_in_the_quiet_hours_waits_for_their_end(now: str, due: str) -> None:
    hh_mm, _, plus = due.partition("+")
    expected = at(hh_mm) + timedelta(days=int(plus or 0))
    assert due_at(at(now), timedelta(0), at(now), ZoneInfo("UTC"), DEFAULT_QUIET) == expected


@pytest.mark.parametrize("now", ["03:00", "09:00", "15:00", "23:30"])
def test_the_delay_counts_from_the_purchase_and_a_late_one_is_due_now(now: str) -> None:
    start = at(now)
    assert due_at(start, timedelta(hours=2), start, ZoneInfo("UTC")) == start + timedelta(hours=2)
    later = start + timedelta(hours=5)  # registered after its delay had passed
    assert due_at(start, timedelta(hours=2), later, ZoneInfo("UTC")) == later


@pytest.mark.parametrize("now", ["03:00", "09:00", "15:00", "23:30"])
def test_without_quiet_hours_nothing_is_deferred(now: str) -> None:
    assert due_at(at(now), timedelta(0), at(now), NEW_YORK, NO_QUIET) == at(now)
    assert due_at(at(now), timedelta(0), at(now), NEW_YORK, (time(8), time(8))) == at(now)


@pytest.mark.parametrize(
    ("utc", "local_due"),
    [
        ("03:00", "09:00"),  # 23:00 in New York (EDT, UTC-4): quiet
        ("09:00", "09:00"),  # 05:00 local: quiet
        ("15:00", None),  # 11:00 local: sent at once
        ("23:30", None),  # 19:30 local
    ],
)
def test_quiet_hours_are_the_customer_s_local_hours(utc: str, local_due: str | None) -> None:
    due = due_at(at(utc), timedelta(0), at(utc), NEW_YORK, DEFAULT_QUIET)
    if local_due is None:
        assert due == at(utc)
    else:
        local = due.astimezone(NEW_YORK)
        assert local.time() == time.fromisoformat(local_due) and due > at(utc)


def test_the_morning_after_the_clocks_spring_forward_is_09_00_local() -> None:
    # 2026-03-08 02:00 EST -> 03:00 EDT. 23:30 EST on the 7th is 04:30 UTC on the 8th.
    evening = datetime(2026, 3, 8, 4, 30, tzinfo=UTC)
    due = due_at(evening, timedelta(0), evening, NEW_YORK, DEFAULT_QUIET)
    assert due == datetime(2026, 3, 8, 13, 0, tzinfo=UTC)  # 09:00 EDT, not 14:00 UTC
    assert due.astimezone(NEW_YORK).time() == time(9)


def test_the_morning_after_the_clocks_fall_back_is_09_00_local() -> None:
    # 2026-11-01 02:00 EDT -> 01:00 EST. 23:30 EDT on Oct 31 is 03:30 UTC on Nov 1.
    evening = datetime(2026, 11, 1, 3, 30, tzinfo=UTC)
    due = due_at(evening, timedelta(0), evening, NEW_YORK, DEFAULT_QUIET)
    assert due == datetime(2026, 11, 1, 14, 0, tzinfo=UTC)  # 09:00 EST, not 13:00 UTC
    assert due.astimezone(NEW_YORK).time() == time(9)


def test_a_deferred_survey_keeps_the_caller_s_time_zone() -> None:
    mexico = ZoneInfo("America/Mexico_City")
    when = datetime(2026, 6, 10, 23, 0, tzinfo=mexico)
    assert outside_quiet_hours(when, mexico, DEFAULT_QUIET) == datetime(
        2026, 6, 11, 9, 0, tzinfo=mexico
    )


# --- whom not to ask --------------------------------------------------------------------------


@pytest.mark.parametrize("now", [at("03:00"), at("09:00"), at("15:00"), at("23:30")])
def test_a_contact_with_a_survey_in_flight_is_not_asked_again(now: datetime) -> None:
    history = History(in_flight=1, last_sent=None, stopped=frozenset())
    assert skip_reason(history, ["sms"], 30, now) == "open_invitation"


@pytest.mark.parametrize("now", [at("03:00"), at("09:00"), at("15:00"), at("23:30")])
def test_a_contact_surveyed_within_the_resurvey_days_is_skipped(now: datetime) -> None:
    recent = History(0, now - timedelta(days=29, hours=23), frozenset())
    assert skip_reason(recent, ["sms"], 30, now) == "resurvey_window"
    old = History(0, now - timedelta(days=30), frozenset())
    assert skip_reason(old, ["sms"], 30, now) is None


def test_a_contact_opted_out_of_every_channel_is_skipped_and_of_some_is_not() -> None:
    stopped = History(0, None, frozenset({"sms", "whatsapp"}))
    assert skip_reason(stopped, ["whatsapp", "sms"], 30, DAY) == "opted_out"
    assert skip_reason(stopped, ["whatsapp", "telegram"], 30, DAY) is None
    assert skip_reason(stopped, [], 30, DAY) is None


def test_a_required_whatsapp_opt_in_passes_whatsapp_over_and_skips_when_nothing_is_left() -> None:
    required = needs_consent({"whatsapp_optin": "required"})
    assert required == {"whatsapp"} and needs_consent({}) == needs_consent({"x": 1}) == set()
    never = History(0, None, frozenset())
    assert skip_reason(never, ["whatsapp"], 30, DAY, 0, required) == "no_consent"
    assert skip_reason(never, ["whatsapp", "sms"], 30, DAY, 0, required) is None
    assert unconsented(never, ["whatsapp", "sms"], required) == {"whatsapp"}
    sms_stopped = History(0, None, frozenset({"sms"}))
    assert skip_reason(sms_stopped, ["whatsapp", "sms"], 30, DAY, 0, required) == "no_consent"
    granted = History(0, None, frozenset(), frozenset({"whatsapp"}))
    assert skip_reason(granted, ["whatsapp"], 30, DAY, 0, required) is None
    assert skip_reason(never, ["whatsapp"], 30, DAY) is None  # the survey does not ask for it


def test_the_rules_answer_in_order_in_flight_then_resurvey_then_opt_out() -> None:
    everything = History(2, DAY - timedelta(days=1), frozenset({"sms"}))
    assert skip_reason(everything, ["sms"], 30, DAY) == "open_invitation"
    assert skip_reason(History(0, DAY, frozenset({"sms"})), ["sms"], 30, DAY) == ("resurvey_window")
    assert skip_reason(CLEAN, ["sms"], 30, DAY) is None


# --- on which channel -------------------------------------------------------------------------


def _no_address(_channel: str) -> str | None:
    return None


def test_the_first_configured_reachable_channel_in_the_order_is_chosen() -> None:
    known = {"whatsapp": Reach("+5215512345678"), "sms": Reach("+5215512345678")}
    order = ["telegram", "whatsapp", "sms"]
    assert choose_channel(order, {"whatsapp", "sms"}, known, _no_address) == (
        "whatsapp",
        "+5215512345678",
    )


def test_opted_out_and_unreachable_channels_are_passed_over() -> None:
    known = {
        "whatsapp": Reach("+521", opted_out=True),
        "sms": Reach("+521", unreachable=True),
        "telegram": Reach("42"),
    }
    order = ["whatsapp", "sms", "telegram"]
    assert choose_channel(order, set(known), known, _no_address) == ("telegram", "42")
    assert choose_channel(order[:2], set(known), known, _no_address) is None


def test_a_channel_without_a_row_is_reached_at_the_contact_s_address() -> None:
    def phone(channel: str) -> str | None:
        return "+521" if channel == "sms" else None

    assert choose_channel(["telegram", "sms"], {"telegram", "sms"}, {}, phone) == ("sms", "+521")
    assert choose_channel(["telegram"], {"telegram"}, {}, phone) is None


def test_a_channel_not_usable_here_is_never_chosen() -> None:
    known = {"sms": Reach("+521")}
    assert choose_channel(["sms"], set(), known, _no_address) is None


# --- the session window -----------------------------------------------------------------------


@pytest.mark.parametrize("now", [at("03:00"), at("09:00"), at("15:00"), at("23:30")])
def test_free_text_is_allowed_within_the_session_window_only(now: datetime) -> None:
    window = timedelta(hours=24)
    assert in_session_window(now - timedelta(hours=23, minutes=59), window, now)
    assert not in_session_window(now - timedelta(hours=24), window, now)
    assert not in_session_window(None, window, now)
    assert in_session_window(None, None, now)  # a channel without a window


def test_the_session_window_is_24_hours_of_elapsed_time_across_a_dst_change() -> None:
    window = timedelta(hours=24)
    # The day the clocks sprang forward in New York, as the database gives times (UTC).
    last = datetime(2026, 3, 7, 12, 30, tzinfo=NEW_YORK).astimezone(UTC)
    now = datetime(2026, 3, 8, 12, 40, tzinfo=NEW_YORK).astimezone(UTC)
    assert now - last == timedelta(hours=23, minutes=10)  # 24 h 10 min on the wall clock
    assert in_session_window(last, window, now)
    assert not in_session_window(last, window, now + timedelta(minutes=50))


QUIET_22 = {"quiet_hours": ["22:00", "08:00"]}
MEXICO = ZoneInfo("America/Mexico_City")


@pytest.mark.parametrize("hh_mm", ["03:00", "09:00", "15:00", "23:30"])
def test_a_sandbox_survey_is_due_at_once_at_any_hour(hh_mm: str) -> None:
    delay, quiet = timing(120, QUIET_22, ["sandbox"])
    assert (delay, quiet) == (timedelta(0), NO_QUIET)
    now = at(hh_mm)
    assert due_at(now, delay, now, MEXICO, quiet) == now
    assert send_quiet(QUIET_22, ["sandbox"]) == NO_QUIET


@pytest.mark.parametrize(
    ("hh_mm", "due"),
    [("03:00", "03:00"), ("04:30", "14:00"), ("09:00", "14:00"), ("23:30", "23:30")],
)
def test_a_tester_who_asks_for_quiet_hours_waits_for_them(hh_mm: str, due: str) -> None:
    # 22:00-08:00 in Mexico City (UTC-6) is 04:00-14:00 UTC.
    delay, quiet = timing(120, QUIET_22, ["sandbox"], quiet=True)
    assert (delay, quiet) == (timedelta(0), (time(22), time(8)))
    assert due_at(at(hh_mm), delay, at(hh_mm), MEXICO, quiet) == at(due)


@pytest.mark.parametrize("hh_mm", ["03:00", "15:00", "23:30"])
def test_a_tester_may_ask_for_a_delay(hh_mm: str) -> None:
    delay, _ = timing(120, QUIET_22, ["sandbox"], delay=5)
    assert due_at(at(hh_mm), delay, at(hh_mm), MEXICO) == at(hh_mm) + timedelta(minutes=5)


def test_real_channels_keep_the_surveys_delay_and_quiet_hours() -> None:
    assert timing(120, QUIET_22, ["whatsapp", "sandbox"]) == (
        timedelta(minutes=120),
        (time(22), time(8)),
    )
    assert timing(120, {}, ["sms"], delay=0) == (timedelta(0), DEFAULT_QUIET)
    assert send_quiet(QUIET_22, ["sms"]) == (time(22), time(8))
    assert send_quiet(QUIET_22, []) == (time(22), time(8))


@pytest.mark.parametrize("hh_mm", ["03:00", "15:00", "23:30"])
def test_a_customer_who_just_wrote_is_present_and_quiet_hours_do_not_hold(hh_mm: str) -> None:
    # Issue 17: a /start at 23:30 left the Telegram customer waiting for the survey until 09:00.
    now = at(hh_mm)
    just_now = {"telegram": Reach("815", last_inbound=now - timedelta(seconds=5))}
    assert present(just_now, now)
    assert send_quiet(QUIET_22, ["telegram"], present=True) == NO_QUIET
    minutes_ago = {"telegram": Reach("815", last_inbound=now - timedelta(minutes=10))}
    assert not present(minutes_ago, now) and not present({"telegram": Reach("815")}, now)
    assert not present({}, now)

"""The dispatcher keeps the rules at send time: quiet hours, opt-outs, reminders, unknown sends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from bot.runtime import Runtime
from bot.storage.models import ContactChannel, Invitation, Message
from bot.survey.operator import resolve_unknown, unknown_invitations
from scheduler.dispatch import claim_batch
from scheduler.loop import tick
from scheduler.reminders import remind
from scheduler.retry import sweep
from tests.conftest import Clock, at_hours
from tests.fakes.counting_channel import CountingChannel
from tests.helpers import SandboxCustomer, first_send, open_survey


def _inv(rt: Runtime, inv_id: int) -> Invitation:
    with rt.db.session() as s:
        inv = s.get(Invitation, inv_id)
        assert inv is not None
        return inv


# When a survey due at each of HOURS goes out, in UTC (None: at once) under the default quiet
# hours, 21:00-09:00. Mexico City keeps UTC-6 all year; Madrid springs forward on 2026-03-29 at
# 02:00, from CET (UTC+1) to CEST (UTC+2).
MORNING = {
    ("America/Mexico_City", "15:00"): None,  # 09:00 there: the quiet hours just ended
    ("America/Mexico_City", "23:30"): None,  # 17:30
    ("America/Mexico_City", "03:00"): "2026-11-22T15:00Z",  # 21:00 there -> 09:00 CST
    ("Europe/Madrid", "15:00"): None,  # 16:00
    ("Europe/Madrid", "23:30"): "2026-03-29T07:00Z",  # 00:30 CET -> 09:00 CEST, not 08:00Z
    ("Europe/Madrid", "03:00"): "2026-11-22T08:00Z",  # 04:00 CET -> 09:00 CET
}


@at_hours
@pytest.mark.parametrize("zone", ["America/Mexico_City", "Europe/Madrid"])
def test_a_survey_due_in_quiet_hours_is_deferred_to_the_morning(
    client: FlaskClient, rt: Runtime, clock: Clock, tmp_path: Path, zone: str
) -> None:
    rt.channels["counting"] = CountingChannel(tmp_path / "sent.log")
    ana = SandboxCustomer(client, rt)  # due now
    with rt.db.session() as s:
        inv = s.get(Invitation, ana.invitation_id)
        assert inv is not None
        inv.contact.timezone = zone
        inv.channels = ["counting", "sandbox"]  # a real channel first: the quiet hours hold
    tick(rt)
    morning = MORNING[zone, f"{clock():%H:%M}"]
    if morning is None:
        assert _inv(rt, ana.invitation_id).state == "asked"
        return
    inv = _inv(rt, ana.invitation_id)
    assert (inv.state, inv.due_at, inv.attempts) == (
        "scheduled",
        datetime.fromisoformat(morning),
        0,  # deferred, not a failed attempt
    )
    assert ana.last_received() == ""
    clock.now = inv.due_at - timedelta(minutes=1)
    tick(rt)
    assert _inv(rt, ana.invitation_id).state == "scheduled"  # not a minute early
    clock.advance(minutes=1)
    tick(rt)
    assert _inv(rt, ana.invitation_id).state == "asked"
    assert ana.last_received().startswith("Considerando tu experiencia")


def test_an_opt_out_after_scheduling_skips_the_survey_at_send_time(
    client: FlaskClient, rt: Runtime
) -> None:
    ana = SandboxCustomer(client, rt)
    with rt.db.session() as s:
        cc = s.scalar(select(ContactChannel).where(ContactChannel.address == ana.address))
        assert cc is not None
        cc.opted_out_at = rt.clock()
    tick(rt)
    inv = _inv(rt, ana.invitation_id)
    assert (inv.state, inv.skip_reason) == ("skipped", "opted_out")


@at_hours
def test_one_reminder_goes_out_after_the_reminder_hours(
    client: FlaskClient, rt: Runtime, clock: Clock
) -> None:
    ana = SandboxCustomer(client, rt)
    question = ana.receive_survey()
    clock.advance(hours=23)
    tick(rt)
    assert _inv(rt, ana.invitation_id).reminded_at is None
    clock.advance(hours=2)
    tick(rt)
    tick(rt)
    with rt.db.session() as s:
        kinds = s.scalars(
            select(Message.kind).where(Message.invitation_id == ana.invitation_id)
        ).all()
    assert kinds.count("reminder") == 1 and ana.last_received() == question
    assert ana.says("10")[0].startswith("¡Qué gusto!")


def test_a_send_whose_worker_died_becomes_unknown_for_an_operator(
    client: FlaskClient, rt: Runtime, clock: Clock
) -> None:
    ana = SandboxCustomer(client, rt)
    jobs, _batch, _n = claim_batch(rt, clock(), 100)
    assert [job.id for job in jobs] == [ana.invitation_id]  # claimed, then the worker dies
    clock.advance(minutes=5)
    sweep(rt, clock())
    assert _inv(rt, ana.invitation_id).state == "unknown"
    assert [row[0] for row in unknown_invitations(rt)] == [ana.invitation_id]
    tick(rt)
    assert _inv(rt, ana.invitation_id).state == "unknown"  # never a silent resend
    resolve_unknown(rt, ana.invitation_id, "resend")
    tick(rt)
    assert _inv(rt, ana.invitation_id).state == "asked"
    assert unknown_invitations(rt) == []


@at_hours
def test_an_unanswered_survey_expires(client: FlaskClient, rt: Runtime, clock: Clock) -> None:
    ana = SandboxCustomer(client, rt)
    ana.receive_survey()
    clock.advance(hours=72, seconds=1)
    tick(rt)
    assert _inv(rt, ana.invitation_id).state == "expired"
    assert clock() - _inv(rt, ana.invitation_id).sent_at > timedelta(hours=72)  # type: ignore[operator]


@at_hours
def test_a_claim_leases_on_the_planned_channel_and_leaves_the_rest_as_it_was(
    client: FlaskClient, rt: Runtime, clock: Clock, tmp_path: Path
) -> None:
    # What a claim writes (issue 7 tried a claim that leases in the same statement, guessing
    # the channel): the lease on the channel the plan chose, here not the first configured one
    # (`counting`, where neither customer has an address), and an invitation it cannot send
    # failed with its channel untouched.
    rt.channels["counting"] = CountingChannel(tmp_path / "sent.log")
    ana, bea = SandboxCustomer(client, rt), SandboxCustomer(client, rt, name="Bea")
    with rt.db.session() as s:
        for inv_id in (ana.invitation_id, bea.invitation_id):
            inv = s.get(Invitation, inv_id)
            assert inv is not None
            inv.channels = ["counting", "sandbox"]
            inv.channel = "sandbox"  # as after an earlier attempt
        cc = s.scalar(select(ContactChannel).where(ContactChannel.address == bea.address))
        assert cc is not None
        cc.opted_out_at = clock()
    clock.now = first_send(rt, ana.invitation_id)  # at night, the morning the rules allow
    jobs, _batch, n = claim_batch(rt, clock(), 100)
    assert n == 2 and [j.id for j in jobs] == [ana.invitation_id]
    sent = _inv(rt, ana.invitation_id)  # leased where the plan sends it, one attempt
    assert (sent.state, sent.channel, sent.attempts) == ("sending", "sandbox", 1)
    assert sent.lease_until == jobs[0].lease_until
    failed = _inv(rt, bea.invitation_id)  # no channel left: failed, the channel as it was
    assert (failed.state, failed.channel, failed.attempts) == ("failed", "sandbox", 1)
    assert failed.lease_until is None and failed.last_error == "no configured, reachable channel"


def test_a_reminder_due_in_quiet_hours_waits_and_lets_the_others_go(
    rt: Runtime, clock: Clock
) -> None:
    # 23:30 UTC: 00:30 in Madrid (quiet), 17:30 in Mexico City, each the number's country's main
    # zone (a +34 mobile is Madrid, not Atlantic/Canary). One reminder per pass (limit 1): the
    # older, waiting one must not hold the other back.
    clock.now = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)
    madrid = open_survey(rt, "sms", "+34600123456")
    mexico = open_survey(rt, "sms", "+525512345678")
    with rt.db.session() as s:
        for inv_id, hours in ((madrid, 26), (mexico, 25)):
            inv = s.get(Invitation, inv_id)
            assert inv is not None and inv.contact.timezone is None
            inv.sent_at = clock() - timedelta(hours=hours)

    def reminded() -> list[int]:
        with rt.db.session() as s:
            q = select(Message.invitation_id).where(Message.kind == "reminder")
            return list(s.scalars(q.order_by(Message.id)))

    assert remind(rt, clock(), limit=1) == 1
    assert reminded() == [mexico]
    clock.now = datetime(2026, 11, 23, 7, 59, tzinfo=UTC)  # 08:59 in Madrid
    assert remind(rt, clock()) == 0
    clock.advance(minutes=1)
    assert remind(rt, clock()) == 1
    assert reminded() == [mexico, madrid]

"""The dispatcher keeps the rules at send time: quiet hours, opt-outs, reminders, unknown sends."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from flask.testing import FlaskClient
from sqlalchemy import select

from bot.runtime import Runtime
from bot.storage.models import ContactChannel, Invitation, Message
from bot.survey.operator import resolve_unknown, unknown_invitations
from scheduler.dispatch import claim_batch
from scheduler.loop import tick
from scheduler.retry import sweep
from tests.conftest import Clock
from tests.fakes.counting_channel import CountingChannel
from tests.helpers import SandboxCustomer


def _inv(rt: Runtime, inv_id: int) -> Invitation:
    with rt.db.session() as s:
        inv = s.get(Invitation, inv_id)
        assert inv is not None
        return inv


def test_a_survey_due_in_quiet_hours_is_deferred_to_the_morning(
    client: FlaskClient, rt: Runtime, clock: Clock
) -> None:
    ana = SandboxCustomer(client, rt)
    with rt.db.session() as s:
        inv = s.get(Invitation, ana.invitation_id)
        assert inv is not None
        inv.contact.timezone = "America/Mexico_City"
    clock.now = clock.now.replace(hour=5)  # 23:00 in Mexico City
    tick(rt)
    inv = _inv(rt, ana.invitation_id)
    assert inv.state == "scheduled" and inv.due_at == clock.now.replace(hour=15)  # 09:00 local
    assert inv.attempts == 0
    clock.now = clock.now.replace(hour=15)
    tick(rt)
    assert _inv(rt, ana.invitation_id).state == "asked"


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


def test_an_unanswered_survey_expires(client: FlaskClient, rt: Runtime, clock: Clock) -> None:
    ana = SandboxCustomer(client, rt)
    ana.receive_survey()
    clock.advance(hours=72, seconds=1)
    tick(rt)
    assert _inv(rt, ana.invitation_id).state == "expired"
    assert clock() - _inv(rt, ana.invitation_id).sent_at > timedelta(hours=72)  # type: ignore[operator]


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
    jobs, _batch, n = claim_batch(rt, clock(), 100)
    assert n == 2 and [j.id for j in jobs] == [ana.invitation_id]
    sent = _inv(rt, ana.invitation_id)  # leased where the plan sends it, one attempt
    assert (sent.state, sent.channel, sent.attempts) == ("sending", "sandbox", 1)
    assert sent.lease_until == jobs[0].lease_until
    failed = _inv(rt, bea.invitation_id)  # no channel left: failed, the channel as it was
    assert (failed.state, failed.channel, failed.attempts) == ("failed", "sandbox", 1)
    assert failed.lease_until is None and failed.last_error == "no configured, reachable channel"

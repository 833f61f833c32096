"""Every send waits for its channel's rate limiter: surveys, queued replies and staff alerts.

At each of the test hours, each send takes a slot from its channel's limiter (a limiter counting
per minute, so the check after the send has time to spare), which is what makes it wait when
the budget is spent. Then, once per case, the wait itself: the channel's budget for this second
spent first, the send must wait for the moving window to free a slot (about a second), as a
burst would at the provider's pace. The hour decides only when the work is due, not how the send
waits, so the real one-second wait runs once per case rather than at every hour.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from time import monotonic

import pytest
from limits import RateLimitItemPerMinute

from bot.storage.messages import queue_outbound
from bot.storage.models import Contact
from bot.survey.contacts import ensure_channel
from bot.survey.purchases import create_invitation, survey_by_key
from channels.base import Outbound
from scheduler.dispatch import Dispatcher
from scheduler.loop import tick
from scheduler.ratelimit import Limiter
from scheduler.send import Sender
from tests.conftest import Clock, at_hours
from tests.e2e.channels.rows_sms import CUSTOMER
from tests.e2e.staff.world import STAFF, World, make_world
from tests.helpers import first_send

RATE = 2  # messages per second


@pytest.fixture
def world(database_url: str, clock: Clock, tmp_path: Path) -> Iterator[World]:
    yield from make_world(database_url, clock, tmp_path)


def a_survey_due(world: World) -> Callable[[], int]:
    rt, now = world.rt, world.clock()
    with rt.db.session_for_update() as s:
        contact = Contact(name="Ana", language="es", phone=CUSTOMER, created_at=now)
        s.add(contact)
        s.flush()
        # She wrote an hour ago: the window is open, free text may go out.
        cc = ensure_channel(s, contact, "whatsapp", CUSTOMER)
        cc.last_inbound_at = now - timedelta(hours=1)
        survey = survey_by_key(s, "post-purchase")
        assert survey is not None
        inv = create_invitation(s, survey, contact, now=now, delay_minutes=0, channels=["whatsapp"])
    world.clock.now = first_send(rt, inv.id)  # at night, the morning it may go out
    return lambda: len(world.whatsapp_sent())


def a_queued_reply(world: World) -> Callable[[], int]:
    rt, now = world.rt, world.clock()
    with rt.db.session_for_update() as s:
        reply = Outbound(channel="whatsapp", to=CUSTOMER, text="¡Gracias!")
        queue_outbound(s, reply, contact_id=None, now=now)
    return lambda: len(world.whatsapp_sent())


def a_staff_alert(world: World) -> Callable[[], int]:
    world.purchase(store="Centro")
    world.customer_says("3")
    world.customer_says("Llegó roto")  # the response completes: its alert is pending
    return lambda: len(world.sent_to(STAFF))


CASES = [
    pytest.param(a_survey_due, "whatsapp", id="a survey"),
    pytest.param(a_queued_reply, "whatsapp", id="a queued reply"),
    pytest.param(a_staff_alert, "telegram", id="a staff alert"),
]


def slots_left(limiter: Limiter, channel: str) -> int:
    """How many sends the limiter lets through now, taking them (never waits)."""
    return sum(1 for _ in iter(lambda: limiter.acquire(channel, deadline=0), False))


@at_hours  # replies and staff alerts go out at night; a survey waits for the morning
@pytest.mark.parametrize(("work", "channel"), CASES)
def test_a_send_takes_a_slot_from_the_channel_s_rate_limiter(
    world: World, work: Callable[[World], Callable[[], int]], channel: str
) -> None:
    sent = work(world)
    before = sent()
    limiter = Limiter({channel: RATE})
    limiter.items[channel] = RateLimitItemPerMinute(RATE)  # no slot frees during the test
    tick(world.rt, Dispatcher(world.rt, Sender(world.rt.channels, limiter)))
    assert sent() == before + 1
    assert slots_left(limiter, channel) == RATE - 1, "the send did not ask the limiter"


@pytest.mark.parametrize(("work", "channel"), CASES)
def test_a_send_waits_for_the_channel_s_rate_limit(
    world: World, work: Callable[[World], Callable[[], int]], channel: str
) -> None:
    sent = work(world)
    before = sent()
    limiter = Limiter({channel: RATE})
    for _ in range(RATE):  # this second's budget, spent
        assert limiter.acquire(channel)
    started = monotonic()
    tick(world.rt, Dispatcher(world.rt, Sender(world.rt.channels, limiter)))
    elapsed = monotonic() - started
    assert sent() == before + 1
    assert elapsed >= 0.9, f"sent after {elapsed:.2f} s: the limiter was not asked"

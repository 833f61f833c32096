"""Faults, end to end: a real `npsbot serve` on a scratch PostgreSQL cluster of the test's own.

- PostgreSQL stopped mid-stream (`FAULT_OUTAGE_SECONDS`, default 15; 60 is the issue's full
  minute): Twilio's webhooks are spooled and acknowledged 200, Telegram's answered 5xx and
  re-sent; after recovery, 0 lost, 0 doubled, every customer answered (through the outbox).
- The server SIGKILLed mid-burst and restarted: 0 lost, 0 doubled among acknowledged messages;
  replies left `sending` are counted as stranded (the outbox's lease makes them `unknown`).

Each prints its figures (`-s` shows them; docs/reliability.md records the last run's).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.faults.harness import LEASE_SECONDS, MESSAGES, Customer, World
from tests.e2e.faults.pgcluster import Cluster, missing
from tests.fakes.base import SPECS
from tests.fakes.bot_api import FakeBotApi
from tests.fakes.twilio_api import FakeTwilio

pytestmark = [
    pytest.mark.skipif(missing() is not None, reason=missing() or ""),
    pytest.mark.skipif(not SPECS.is_dir(), reason=f"provider specs not found at {SPECS}"),
]

OUTAGE = float(os.environ.get("FAULT_OUTAGE_SECONDS", "15"))
PER_CHANNEL = 30  # customers on each of SMS, WhatsApp and Telegram
TWILIO_THREADS = 4
SETTLE = 90.0  # seconds allowed for the spool and the outbox to catch up after a fault


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    cluster = Cluster()
    try:
        cluster.start()
        with FakeTwilio() as twilio, FakeBotApi() as bot:
            w = World(cluster.url, tmp_path, twilio, bot)
            w.cluster = cluster  # type: ignore[attr-defined]
            try:
                yield w
            finally:
                w.stop()
    finally:
        cluster.destroy()


def stream(world: World, customers: list[Customer], seconds: float) -> list[threading.Thread]:
    """Every customer sends a score, then the reason, spread over `seconds`; one customer's
    messages always from one sender, in order."""
    twilio = [c for c in customers if c.channel != "telegram"]
    telegram = [c for c in customers if c.channel == "telegram"]
    lanes: list[tuple[Callable[[Customer, str], None], list[Customer]]] = [
        (world.send_twilio, twilio[i::TWILIO_THREADS]) for i in range(TWILIO_THREADS)
    ]
    lanes.append((world.send_telegram, telegram))

    def lane(send: Callable[[Customer, str], None], mine: list[Customer]) -> None:
        # On a schedule, not a fixed pause: a lane held up by an outage catches up after it.
        pace = seconds / max(1, len(mine) * len(MESSAGES))
        start = time.monotonic()
        for i, (body, c) in enumerate((b, c) for b in MESSAGES for c in mine):
            time.sleep(max(0.0, start + i * pace - time.monotonic()))
            send(c, body)

    threads = [threading.Thread(target=lane, args=lane_args, daemon=True) for lane_args in lanes]
    for t in threads:
        t.start()
    return threads


def settle(world: World, customers: list[Customer], threads: list[threading.Thread]) -> None:
    deadline = time.monotonic() + SETTLE
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    expected = {c.address for c in customers}
    while time.monotonic() < deadline:
        got = world.replies()
        if world.spool_empty() and all(got[a] >= len(MESSAGES) for a in expected):
            break
        time.sleep(0.2)


def wait_out_leases(world: World) -> None:
    """A reply the fault caught mid-send stays `sending` until its lease lapses, then is
    `unknown`; and the last reply a customer got may be a moment from being marked `sent`."""
    deadline = time.monotonic() + LEASE_SECONDS + 5
    while world.stored()[1] and time.monotonic() < deadline:
        time.sleep(0.5)


def report(name: str, world: World, customers: list[Customer]) -> dict[str, int]:
    f = world.figures
    stored, sending = world.stored()
    got = world.replies()
    figures = {
        "customers": len(customers),
        "requests tried": f.tried,
        "5xx": f.five_xx,
        "Twilio 5xx": f.twilio_5xx,
        "connection failures": f.status[0],
        "acknowledged": len(f.acked),
        "Twilio gave up": len(f.given_up),
        "lost": sum(1 for pid in f.acked if stored[pid] == 0),
        "doubled": sum(1 for n in stored.values() if n > 1)
        + sum(max(0, got[c.address] - len(MESSAGES)) for c in customers),
        "unanswered": sum(1 for c in customers if got[c.address] < len(MESSAGES)),
        "stranded": sending,
        "listed unknown": world.unknown(),
    }
    print(f"\n[faults] {name}: " + ", ".join(f"{k} {v}" for k, v in figures.items()))
    return figures


def test_postgresql_stopped_mid_stream_loses_and_doubles_nothing(world: World) -> None:
    customers = world.customers(PER_CHANNEL)
    world.start()
    cluster: Cluster = world.cluster  # type: ignore[attr-defined]
    threads = stream(world, customers, seconds=OUTAGE + 5)
    time.sleep(2)
    cluster.stop()
    time.sleep(OUTAGE)
    spooled_during = not world.spool_empty()
    cluster.start()
    settle(world, customers, threads)
    wait_out_leases(world)

    figures = report(f"PostgreSQL away {OUTAGE:g} s", world, customers)
    assert spooled_during, "no Twilio webhook was spooled while PostgreSQL was away"
    assert world.figures.twilio_5xx == 0, "Twilio gives up on a 5xx: it must be spooled"
    assert world.figures.given_up == [], "a Twilio webhook was not acknowledged"
    assert figures["5xx"] > 0, "Telegram's webhooks should have been answered 5xx meanwhile"
    assert figures["acknowledged"] == len(customers) * len(MESSAGES)
    assert figures["lost"] == 0
    assert figures["doubled"] == 0
    assert figures["unanswered"] == 0
    assert figures["stranded"] == 0
    assert world.twilio.spec_problems == [] and world.bot.spec_problems == []


def test_a_server_killed_mid_burst_loses_and_doubles_nothing_acknowledged(world: World) -> None:
    customers = world.customers(PER_CHANNEL)
    world.start()
    threads = stream(world, customers, seconds=6)
    time.sleep(2.5)
    world.kill()
    world.start()  # as a supervisor would; what was committed before the kill is replayed
    settle(world, customers, threads)
    wait_out_leases(world)

    figures = report("server SIGKILLed", world, customers)
    assert figures["acknowledged"] > 0
    assert figures["lost"] == 0
    assert figures["doubled"] == 0
    assert figures["stranded"] == 0, "every reply ends sent or listed unknown"
    assert world.twilio.spec_problems == [] and world.bot.spec_problems == []

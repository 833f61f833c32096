"""Issue 16, finding 6: a worker SIGKILLed mid-burst of queued replies strands none of them.

Real `npsbot worker` processes (`tests/fakes/run_worker.py`) send a burst of queued replies on
the counting channel, whose record file, outside the database, says what really went out and
how often. One worker is SIGKILLed mid-burst and a new one started, as a supervisor would; once
the dead worker's lease has expired every reply is `sent` or listed by `npsbot outbox unknown`:
none silently stranded, none sent twice. Then an operator settles each listed reply (`sent` if
the provider had it, `resend` if not) and every customer has had exactly one reply.

PostgreSQL runs two workers at once (FOR UPDATE SKIP LOCKED); SQLite one at a time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
from sqlalchemy import create_engine, text

from bot.bootstrap import build_runtime
from bot.config import load_settings, normalise_database_url
from bot.runtime import Runtime
from bot.storage.migrate import upgrade
from bot.survey.operator import resolve_reply, unknown_replies
from tests.fakes import dispatch_db
from tests.fakes.counting_channel import records, sent_counts

PG_URL = os.environ.get("TEST_DATABASE_URL")
REPLIES = 600
# Short, so the dead worker's replies become `unknown` within the test.
SHORT_LEASE = {"DISPATCH_LEASE_SECONDS": "4"}
# Sends that take a moment, so a worker killed at a random instant has some in flight.
SLOW_SENDS = {"COUNTING_CHANNEL_LATENCY": "0.01"}
KILL_AFTER = 60  # replies the victim has sent when it is killed
DEADLINE = 60.0


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        path = f"sqlite:///{tmp_path / 'outbox.db'}"
        upgrade(path)
        yield path
        return
    if not PG_URL:
        pytest.skip("PostgreSQL run skipped: set TEST_DATABASE_URL")
    scratch = dispatch_db.create_scratch(PG_URL, "npsbot_outbox")
    yield scratch
    dispatch_db.drop_scratch(PG_URL, scratch)


class Fleet:
    """Queued replies in the database and worker processes sending them."""

    def __init__(self, url: str, tmp: Path) -> None:
        self.url, self.tmp = url, tmp
        self.record = tmp / "sent.log"
        dispatch_db.seed_replies(url, REPLIES)
        surveys = dispatch_db.write_surveys_file(tmp)
        self.env = dispatch_db.worker_env(url, surveys, self.record, {**SHORT_LEASE, **SLOW_SENDS})
        self.engine = create_engine(normalise_database_url(url))
        self.workers: list[subprocess.Popen[bytes]] = []
        self.logs: list[IO[bytes]] = []

    def start(self, n: int) -> list[subprocess.Popen[bytes]]:
        new = []
        for _ in range(n):
            self.logs.append((self.tmp / f"worker-{len(self.logs)}.log").open("wb"))
            new.append(dispatch_db.start_worker(self.env, self.logs[-1]))
        for w in new:
            assert w.stdout is not None
            assert w.stdout.readline().startswith(b"ready"), f"no worker: see {self.tmp}"
        self.workers += new
        return new

    def statuses(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT status, count(*) FROM messages GROUP BY status"))
            return {status: count for status, count in rows}

    def wait_until_settled(self) -> dict[str, int]:
        """Until no reply is waiting or being sent (bounded)."""
        give_up = time.monotonic() + DEADLINE
        while time.monotonic() < give_up:
            statuses = self.statuses()
            if not statuses.get("queued") and not statuses.get("sending"):
                return statuses
            time.sleep(0.25)
        pytest.fail(f"not settled after {DEADLINE:.0f} s: {self.statuses()}")

    def stop(self) -> None:
        dispatch_db.stop_workers(self.workers, self.logs)
        self.engine.dispose()


@pytest.fixture
def fleet(url: str, tmp_path: Path) -> Iterator[Fleet]:
    f = Fleet(url, tmp_path)
    yield f
    f.stop()


@pytest.fixture
def operator(fleet: Fleet) -> Iterator[Runtime]:
    # No SURVEYS_FILE: it names the counting channel, which only the workers plug in.
    env = {k: v for k, v in fleet.env.items() if k != "SURVEYS_FILE"}
    rt = build_runtime(load_settings(env, dotenv=None), sync=False)
    yield rt
    rt.close()


def test_a_worker_killed_mid_burst_of_replies_strands_none_and_sends_none_twice(
    fleet: Fleet, operator: Runtime
) -> None:
    postgres = fleet.url.startswith("postgresql")
    victim = fleet.start(2 if postgres else 1)[0]
    dispatch_db.replies_due(fleet.url)
    give_up = time.monotonic() + DEADLINE
    while sum(pid == victim.pid for _n, pid in records(fleet.record, "reply-")) < KILL_AFTER:
        assert time.monotonic() < give_up, "the victim never sent anything"
        time.sleep(0.01)

    victim.send_signal(signal.SIGKILL)
    victim.wait()
    fleet.start(1)  # the supervisor's restart
    statuses = fleet.wait_until_settled()

    counts = sent_counts(fleet.record, "reply-")
    doubled = [n for n, times in counts.items() if times > 1]
    with fleet.engine.connect() as conn:
        sent = set(conn.scalars(text("SELECT id FROM messages WHERE status = 'sent'")))
    listed = {row[0] for row in unknown_replies(operator)}
    stranded = set(range(1, REPLIES + 1)) - sent - listed
    print(
        f"\n{'postgresql' if postgres else 'sqlite'}: {REPLIES} replies, {len(sent)} sent, "
        f"{len(listed)} unknown ({len(listed & set(counts))} of them really sent), "
        f"{len(doubled)} doubled, {len(stranded)} stranded"
    )
    assert doubled == [], "sent twice"
    assert set(statuses) <= {"sent", "unknown"}, statuses
    assert stranded == set()
    assert all(counts[i] == 1 for i in sent)  # every reply recorded as sent went out, once
    assert listed, "the kill left nothing in flight: the test proved nothing about a dead worker"
    # Only the dead worker's replies are in doubt; the others recorded all of theirs.
    alive = {w.pid for w in fleet.workers if w is not victim}
    assert not {n for n, pid in records(fleet.record, "reply-") if pid in alive} & listed

    # The operator settles each: the provider had it (the record file says so) or resend.
    for reply in listed:
        resolve_reply(operator, reply, "sent" if counts[reply] else "resend")
    assert fleet.wait_until_settled() == {"sent": REPLIES}
    assert sent_counts(fleet.record, "reply-") == {n: 1 for n in range(1, REPLIES + 1)}
    assert unknown_replies(operator) == []

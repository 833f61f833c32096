"""The dispatcher loop. APScheduler 3 is only the clock: every second (or at once when woken)
it claims due work from the database and does it. A survey due before the next second is
claimed when it is due, not up to a second later: after each pass the loop asks the database
when the next one is due (`next_due`) and wakes then."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from bot.config import parse_rates
from bot.insights import rollup
from bot.privacy import retention
from bot.runtime import Runtime
from bot.survey.program_run import run_programs
from scheduler.alerts import staff_step
from scheduler.dispatch import Dispatcher, next_due
from scheduler.outbox import send_outbox
from scheduler.ratelimit import Limiter
from scheduler.reminders import remind
from scheduler.retry import sweep
from scheduler.send import Sender
from scheduler.webhooks import deliver_webhooks

log = logging.getLogger(__name__)

INTERVAL = timedelta(seconds=1)  # the scheduler's pass
POLL = 0.5  # seconds the waker sleeps at most between looks at `_next` and at stop
STARTUP_GRACE = timedelta(seconds=10)  # before the first insights refresh
# How often a worker asks whether today's retention run is done (it runs once a UTC day).
RETENTION_CHECK = timedelta(hours=1)


def tick(rt: Runtime, dispatcher: Dispatcher | None = None) -> int:
    """One pass over all due work; returns how many items were handled.

    Invitations are claimed a batch at a time and sent by `dispatcher` until none is due
    (inline, without a rate limiter, when none is given: the tests' way)."""
    dispatcher = dispatcher or Dispatcher(rt, Sender(rt.channels))
    sender = dispatcher.sender
    now = rt.clock()
    rt.wake.clear()
    sweep(rt, now)
    remind(rt, now)
    run_programs(rt, now)  # relational surveys: each one's day, once
    # Staff alerts first: a detractor's alert should not wait behind a batch of surveys.
    done = staff_step(rt, now, sender)
    done += send_outbox(rt, now, sender)

    def between() -> None:
        # ... nor behind a long drain of due surveys.
        later = rt.clock()
        staff_step(rt, later, sender)
        send_outbox(rt, later, sender)

    return done + dispatcher.drain(now, between)


class Loop:
    def __init__(self, rt: Runtime, *, blocking: bool = False, workers: int | None = None) -> None:
        self.rt = rt
        workers = workers or rt.settings.dispatch_concurrency  # DISPATCH_CONCURRENCY
        # The one limiter of this process's sends (shared with other processes through Redis).
        limiter = Limiter(parse_rates(rt.settings.send_rate_limits), rt.settings.redis_url)
        # A claim costs a few statements whatever its size, so claim at least 100; the next is
        # claimed only when fewer sends than threads are waiting, so a claimed invitation
        # waits at most about two batches' sends for its turn (see dispatch's lease invariant).
        self.dispatcher = Dispatcher(
            rt, Sender(rt.channels, limiter), workers, batch=max(2 * workers, 100)
        )
        cls = BlockingScheduler if blocking else BackgroundScheduler
        self.scheduler = cls(job_defaults={"coalesce": True, "max_instances": 1})
        # The first pass runs at start, not one interval later.
        self.scheduler.add_job(
            self._tick, "interval", seconds=1, id="tick", next_run_time=datetime.now(UTC)
        )
        # The insights rollup (reports stay exact without it, only slower): every minute, apart
        # from the sends so a backfill never delays a survey.
        self.scheduler.add_job(
            self._refresh_insights,
            "interval",
            seconds=rollup.ROLLUP_INTERVAL,
            id="insights",
            # Not at start: the first dispatch pass gets the process's cores to itself.
            next_run_time=datetime.now(UTC) + STARTUP_GRACE,
        )
        # Retention (RETENTION_*_DAYS): the day's run, by the first worker that claims it.
        self.scheduler.add_job(
            self._retention,
            "interval",
            seconds=RETENTION_CHECK.total_seconds(),
            id="retention",
            next_run_time=datetime.now(UTC) + 6 * STARTUP_GRACE,
        )
        # Outbound webhooks in their own job: a slow endpoint never delays a survey.
        self.scheduler.add_job(self._deliver_webhooks, "interval", seconds=1, id="webhooks")
        self._stop = threading.Event()
        self._lock = threading.Lock()  # one pass at a time in this process
        self._next: datetime | None = None  # a survey due before the next interval's pass
        self._waker = threading.Thread(target=self._wake_loop, daemon=True, name="waker")

    def _tick(self) -> None:
        with self._lock:
            self._next = None
            try:
                while tick(self.rt, self.dispatcher):
                    pass  # drain: more may be due
                due, now = next_due(self.rt), self.rt.clock()
                # Only a future time: one due already is another worker's claim in progress
                # (locked, so skipped here), and waking for it again would spin.
                if due is not None and now < due < now + INTERVAL:
                    self._next = due
            except Exception:
                log.exception("dispatcher tick failed; retrying next second")

    def _deliver_webhooks(self) -> None:
        try:
            while deliver_webhooks(self.rt, self.rt.clock()):
                pass  # drain: more may be due
        except Exception:
            log.exception("webhook delivery failed; retrying next second")

    def _refresh_insights(self) -> None:
        rollup.refresh_job(self.rt.db, self.rt.clock().astimezone(UTC).date())

    def _retention(self) -> None:
        try:
            retention.run_daily(self.rt, self.rt.clock())
        except Exception:
            log.exception("retention run failed; the next day's run removes what is left")

    def _wake_loop(self) -> None:
        # New outbox work (a reply) should not wait for the next second, nor a survey due
        # before then.
        while not self._stop.is_set():
            due = self._next
            wait = POLL
            if due is not None:
                wait = min(POLL, max(0.0, (due - self.rt.clock()).total_seconds()))
            woken = self.rt.wake.wait(wait)
            if self._stop.is_set():
                break
            if woken or (due is not None and due is self._next and self.rt.clock() >= due):
                self.rt.wake.clear()
                self._tick()

    def start(self) -> None:
        self._waker.start()
        self.scheduler.start()  # blocks for BlockingScheduler

    def stop(self) -> None:
        self._stop.set()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        # Let a running pass finish, so no connection outlives the loop.
        with self._lock:
            self.dispatcher.close()
        if self._waker.is_alive():
            self._waker.join(timeout=5)

"""Sending due invitations: claim a batch under a lease, send outside any transaction, record.

A survey is sent at most once: a worker that dies between the send and the record leaves a lease
that expires into the visible `unknown` state (`scheduler.retry.sweep`), never a silent resend.

The work is set-based, per batch (`Dispatcher.drain`):

1. `claim.claim_batch`: one transaction claims up to `batch` due invitations, applies the rules
   (`bot.survey.rules`) and makes the ones to send `sending`, under one lease.
2. `send.sender_thread`: the sends run in the pool (`DISPATCH_CONCURRENCY` threads, fed through
   a queue), each after the channel's rate limiter, with no transaction open. The next batch is
   claimed while the pool still has work, so a slow provider is never left idle between batches.
3. `record.record`: results are recorded in bulk every `FLUSH_SECONDS`, in the dispatcher's
   recorder thread beside the next claim.

An invitation whose lease ran too low while it waited in the pool is not sent: it is put back to
`scheduled` (it provably did not go out, even if a sweep already called it `unknown`) and
claimed again (see `send` for the lease invariant).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import datetime
from queue import Empty, SimpleQueue
from time import monotonic
from typing import Any

from sqlalchemy import func, select

from bot.runtime import Runtime
from bot.storage.models import Invitation
from bot.storage.models import InvitationState as S
from scheduler.dispatch.claim import claim_batch
from scheduler.dispatch.plan import Batch, Job, Plan, question
from scheduler.dispatch.record import record
from scheduler.dispatch.send import Crashed, Outcome, send_job, sender_thread
from scheduler.retry import guard
from scheduler.send import Sender

__all__ = ["Dispatcher", "Plan", "claim_batch", "next_due", "question"]

FLUSH_SECONDS = 0.05  # how long a sent survey may wait for its record (batched with others)
BETWEEN_SECONDS = 1.0  # staff alerts and queued replies still go out during a long drain


class Dispatcher:
    """Sends due invitations through `sender`: in `workers` sender threads, their results
    recorded by one recorder thread beside the next claim (one record at a time keeps them in
    order); inline, in the caller's thread, with no workers."""

    def __init__(self, rt: Runtime, sender: Sender, workers: int = 0, batch: int = 100) -> None:
        self.rt, self.sender, self.batch = rt, sender, batch
        self.threads = max(workers, 1)
        self.pool: ThreadPoolExecutor | None = None
        self.recorder: ThreadPoolExecutor | None = None
        if workers:
            self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="send")
            self.recorder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="record")

    def close(self) -> None:
        """Stop the threads once their work is done."""
        for executor in (self.pool, self.recorder):
            if executor is not None:
                executor.shutdown(wait=True)

    def drain(self, now: datetime, between: Callable[[], object] | None = None) -> int:
        """Claim, send and record due invitations until none is due; returns how many were
        claimed. The next batch is claimed while fewer sends than the pool has threads are
        waiting; `between` runs about every second of a long drain."""
        rt, pool, batch = self.rt, self.pool, self.batch
        cut = guard(rt)
        jobs_q: SimpleQueue[Job | None] = SimpleQueue()
        results: SimpleQueue[tuple[Job, Outcome]] = SimpleQueue()
        senders: list[Future[None]] = []
        in_pool = 0  # queued or being sent, not yet in `results`' hands
        batch_of: dict[int, Batch] = {}
        done: list[tuple[Job, Outcome]] = []
        recording: Future[list[Job]] | None = None
        recorded: list[tuple[Job, Outcome]] = []  # what `recording` records
        claimed = 0
        more = True
        first_done = 0.0
        last_between = monotonic()

        def recorded_now(again: list[Job]) -> None:
            retry = {j.id for j in again}
            for job, _o in recorded:
                if job.id not in retry:
                    batch_of.pop(job.id, None)
            for job in again:
                submit(job)

        def submit(job: Job) -> None:
            nonlocal in_pool
            in_pool += 1
            if pool is None:
                results.put((job, send_job(rt, self.sender, job, cut)))
                return
            if not senders:
                senders.extend(
                    pool.submit(sender_thread, rt, self.sender, cut, jobs_q, results)
                    for _ in range(self.threads)
                )
            jobs_q.put(job)

        try:
            while True:
                if more and in_pool < self.threads:
                    jobs, b, n = claim_batch(rt, rt.clock() if claimed else now, batch)
                    claimed += n
                    more = n == batch  # fewer than asked for: nothing else is due yet
                    for job in jobs:
                        batch_of[job.id] = b
                        submit(job)
                if recording is not None and (recording.done() or not in_pool):
                    again = recording.result()  # waits only when nothing else is in flight
                    recording = None
                    recorded_now(again)
                if not in_pool and not done and recording is None:
                    break
                if in_pool:
                    try:
                        finished = [results.get(timeout=FLUSH_SECONDS)]
                    except Empty:
                        finished = []
                    while not results.empty():  # this thread is the only consumer
                        finished.append(results.get())
                    for job, outcome in finished:
                        in_pool -= 1
                        if not done:
                            first_done = monotonic()
                        if not isinstance(outcome, Crashed):
                            done.append((job, outcome))
                # Recorded in bulk, but soon: a recorded survey is one an answer can find.
                if (
                    done
                    and recording is None
                    and (
                        len(done) >= batch
                        or not in_pool
                        or monotonic() - first_done >= FLUSH_SECONDS
                    )
                ):
                    recorded, done = done, []
                    if self.recorder is None:
                        recorded_now(record(rt, batch_of, recorded))
                    else:
                        recording = self.recorder.submit(record, rt, batch_of, recorded)
                if between is not None and monotonic() - last_between >= BETWEEN_SECONDS:
                    between()
                    last_between = monotonic()
        finally:
            # Queued sends still go out (their leases were committed), then the senders stop;
            # a record under way finishes (no connection outlives the pass).
            for _ in senders:
                jobs_q.put(None)
            running: list[Future[Any]] = [*senders]
            if recording is not None:
                running.append(recording)
            wait(running)
        return claimed


def next_due(rt: Runtime) -> datetime | None:
    """When the earliest scheduled invitation is due (the claim's index answers at once)."""
    with rt.db.session() as s:
        return s.scalar(select(func.min(Invitation.due_at)).where(Invitation.state == S.SCHEDULED))

"""Sending claimed invitations, in the dispatcher's pool threads, with no transaction open.

The lease invariant: an invitation's send *starts* only while `now < lease_until - guard`
(`scheduler.retry.guard`), checked after the rate limiter let it through. The sweep makes a
lease `unknown` only once `lease_until < now`, and an operator can `resend` only an `unknown`
one, so no send starts on an invitation another worker or an operator could already act on.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from queue import SimpleQueue

from bot.runtime import Runtime
from channels.base import Sent
from channels.errors import SendError
from scheduler.dispatch.plan import Job
from scheduler.send import Sender

log = logging.getLogger(__name__)


class Lapsed:
    """The lease ran too low before the send could start: not sent."""


class Crashed:
    """The channel raised something unexpected: maybe sent, so left to become `unknown`."""


LAPSED, CRASHED = Lapsed(), Crashed()
Outcome = tuple[Sent, datetime] | SendError | Lapsed | Crashed


def send_job(rt: Runtime, sender: Sender, job: Job, guard: timedelta) -> Outcome:
    """One send: the rate limiter, the lease check, the provider call."""
    plan = job.plan
    assert plan is not None and job.lease_until is not None
    try:
        sender.wait(plan.channel)
    except SendError as exc:
        return exc
    # The invariant above: no send starts once another worker's sweep could act on it.
    if rt.clock() >= job.lease_until - guard:
        return LAPSED
    try:
        sent = sender.deliver(plan.message)
    except SendError as exc:
        return exc
    except Exception:
        log.exception("sending invitation %s on %s crashed", job.id, plan.channel)
        return CRASHED
    return sent, rt.clock()


def sender_thread(
    rt: Runtime,
    sender: Sender,
    guard: timedelta,
    jobs: SimpleQueue[Job | None],
    results: SimpleQueue[tuple[Job, Outcome]],
) -> None:
    """One pool thread's part of a drain: send queued invitations until told to stop (None)."""
    while (job := jobs.get()) is not None:
        try:
            outcome = send_job(rt, sender, job, guard)
        except Exception:
            # The rate limiter's store failing, say: maybe not sent, but this thread must go on
            # (the drain waits for every result) and the lease will make it `unknown`.
            log.exception("sending invitation %s crashed", job.id)
            outcome = CRASHED
        results.put((job, outcome))

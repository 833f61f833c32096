"""Acting on a case away from the staff chat: the dashboard's buttons and
`npsbot cases take|resolve|reopen`.

The same transitions as the chat's buttons (`bot.staff.cases`), in one transaction that holds
the writer lock (SQLite) and the case's row lock (PostgreSQL). The staff-chat cards are edited
by the outbox after the commit (queued rows: no provider call inside the transaction)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.events import OutboxQueued
from bot.runtime import Runtime
from bot.staff.cards import queue_refresh
from bot.staff.cases import Actor, apply


@dataclass(frozen=True)
class Done:
    """The case after the transition, and the event it recorded."""

    case_id: int
    event: str
    status: str
    assignee: str | None
    outcome: str | None


def act(rt: Runtime, case_id: int, action: str, actor: Actor, outcome: str | None = None) -> Done:
    """Make `action` on case `case_id`. Raises LookupError (no such case) or NotAllowed."""
    now = rt.clock()
    with rt.db.session_for_update() as s:
        case, event = apply(s, case_id, action, actor, now, outcome)
        s.flush()
        edits = queue_refresh(s, rt.settings, case.id, now)
        done = Done(case.id, event.kind, case.status, case.assignee, case.outcome)
    if edits:
        rt.bus.publish(OutboxQueued())
    return done

"""Acting on a case away from the staff chat: the dashboard's buttons and
`npsbot cases take|resolve|reopen`.

The same transitions as the chat's buttons (`bot.staff.cases`), in one transaction that holds
the writer lock (SQLite) and the case's row lock (PostgreSQL). The staff-chat cards are edited
by the outbox after the commit (queued rows: no provider call inside the transaction)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.events import OutboxQueued
from bot.runtime import Runtime
from bot.staff.cards import queue_refresh
from bot.staff.cases import STAFF, Actor, apply
from bot.storage.models import CaseEvent, StaffRole, StaffUser

DASHBOARD = "dashboard:"  # the prefix of a dashboard user's actor id (then the user's id)


@dataclass(frozen=True)
class Done:
    """The case after the transition, and the event it recorded."""

    case_id: int
    event: str
    status: str
    assignee: str | None
    outcome: str | None


def act(
    rt: Runtime,
    case_id: int,
    action: str,
    actor: Actor,
    outcome: str | None = None,
    note: str | None = None,
    to: Actor | None = None,
) -> Done:
    """Make `action` on case `case_id`. Raises LookupError (no such case) or NotAllowed."""
    now = rt.clock()
    with rt.db.session_for_update() as s:
        case, event = apply(s, case_id, action, actor, now, outcome, note, to)
        s.flush()
        edits = queue_refresh(s, rt.settings, case.id, now)
        done = Done(case.id, event.kind, case.status, case.assignee, case.outcome)
    if edits:
        rt.bus.publish(OutboxQueued())
    return done


def assignees(s: Session) -> list[Actor]:
    """Who a case may be reassigned to: the dashboard's owners and agents, and the Telegram
    staff who have acted on a case (by the name they last acted under)."""
    users = s.scalars(
        select(StaffUser)
        .where(StaffUser.disabled_at.is_(None), StaffUser.role.in_([r.value for r in STAFF]))
        .order_by(StaffUser.username)
    )
    out = [Actor(f"{DASHBOARD}{u.id}", u.username, StaffRole(u.role)) for u in users]
    rows = s.execute(
        select(CaseEvent.actor_id, CaseEvent.actor_name)
        .where(
            CaseEvent.actor_id.is_not(None),
            CaseEvent.actor_name.is_not(None),
            CaseEvent.kind.in_(("taken", "resolved", "staff_reply", "reopened", "outcome")),
        )
        .order_by(CaseEvent.id.desc())
        .limit(500)
    ).all()
    seen: set[str] = set()
    for actor_id, name in rows:
        # Telegram users' ids are numbers; CLI and dashboard actors have a prefix.
        if actor_id and name and actor_id.isdigit() and actor_id not in seen:
            seen.add(actor_id)
            out.append(Actor(actor_id, name))
    return out

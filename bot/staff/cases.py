"""The case workflow: one table of transitions, applied under a row lock.

    open ──take──▶ taken ──resolve──▶ resolved ──reopen──▶ taken (open if nobody had it)
      │  └reassign┘  ▲ └reassign┘        ▲   └──outcome──▶ resolved (what came of it)
      ├──reassign────┘                   │
      └───────────resolve────────────────┘
    note: in any status, changes nothing but the record.

Every way of acting on a case goes through `TRANSITIONS` and `apply`: the Telegram card's
buttons and a staff reply (`bot.staff.chat`, `bot.staff.reply`), the dashboard and
`npsbot cases take|resolve|reopen` (`bot.staff.desk`). Each records the same CaseEvent, with its
actor, and the same audit row (`case.<action>`: who, from where, the outcome or the assignee;
never the note). The outcome "other" needs a note saying what came of it (the card's buttons
leave it out: a tap cannot carry one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from bot.config import Settings
from bot.storage.audit import record
from bot.storage.hooks import emit
from bot.storage.models import Case, CaseEvent, CaseStatus, Contact, Response, StaffRole

# What came of a resolved case (stored in `cases.outcome`), with its label on cards and forms.
OUTCOMES: dict[str, str] = {
    "called_back": "📞 Called back",
    "refunded": "💸 Refunded",
    "replaced": "📦 Replaced",
    "no_action": "No action",
    "other": "Other",
}
NEEDS_NOTE = frozenset({"other"})  # outcomes only a note explains
# The outcomes a single tap or a select can record (the card's buttons, the overview's form).
QUICK_OUTCOMES = tuple(k for k in OUTCOMES if k not in NEEDS_NOTE)
NOTE_MAX = 2000  # characters of a note (a case event's text; the form says so)
VERBS = {
    "take": "take",
    "resolve": "resolve",
    "reopen": "reopen",
    "outcome": "record the outcome of",
    "reassign": "reassign",
    "note": "add a note to",
}
ACTIONS = tuple(VERBS)
STAFF = frozenset({StaffRole.OWNER, StaffRole.AGENT})  # viewers act on nothing


@dataclass(frozen=True)
class Actor:
    """Who acts: a Telegram user (id = user id), a dashboard user or an operator at the CLI;
    `audit` names them in the audit trail (their id when empty) and `source` says from where."""

    id: str
    name: str
    role: StaffRole = StaffRole.AGENT
    audit: str = ""
    source: str | None = None

    @property
    def audited(self) -> str:
        return self.audit or self.id


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[str]  # the statuses it applies to
    status: str | None  # the status it leads to (None: it stays)
    event: str  # the CaseEvent kind it records
    who: frozenset[StaffRole]  # the roles that may do it
    assigns: bool = False  # the actor becomes the assignee when the case has none
    outcome: str = "keep"  # "set" (to the one chosen, maybe none), "clear" or "keep"


TRANSITIONS: tuple[Transition, ...] = (
    Transition(
        "take",
        frozenset({CaseStatus.OPEN}),
        CaseStatus.TAKEN,
        "taken",
        STAFF,
        assigns=True,
    ),
    Transition(
        "resolve",
        frozenset({CaseStatus.OPEN, CaseStatus.TAKEN}),
        CaseStatus.RESOLVED,
        "resolved",
        STAFF,
        assigns=True,
        outcome="set",
    ),
    # Back to whoever had it; a case nobody has is open (see `apply`).
    Transition(
        "reopen",
        frozenset({CaseStatus.RESOLVED}),
        CaseStatus.TAKEN,
        "reopened",
        STAFF,
        outcome="clear",
    ),
    Transition(
        "outcome",
        frozenset({CaseStatus.RESOLVED}),
        CaseStatus.RESOLVED,
        "outcome",
        STAFF,
        outcome="set",
    ),
    # To another staff member (`to`): the case is theirs, taken (when it was open, from now).
    Transition(
        "reassign",
        frozenset({CaseStatus.OPEN, CaseStatus.TAKEN}),
        CaseStatus.TAKEN,
        "reassigned",
        STAFF,
    ),
    Transition(
        "note",
        frozenset({CaseStatus.OPEN, CaseStatus.TAKEN, CaseStatus.RESOLVED}),
        None,
        "note",
        STAFF,
    ),
)


class NotAllowed(Exception):
    """The actor may not do this, or not to a case in this state; the message says why."""


def may(role: StaffRole, action: str) -> bool:
    """Whether `role` may ever do `action` (read-only users may do nothing)."""
    return any(t.action == action and role in t.who for t in TRANSITIONS)


def transition(status: str, action: str) -> Transition | None:
    """The transition `action` makes from `status`; None when it does not apply there."""
    return next((t for t in TRANSITIONS if t.action == action and status in t.sources), None)


def check(
    status: str,
    action: str,
    role: StaffRole,
    outcome: str | None = None,
    note: str | None = None,
    to: Actor | None = None,
) -> Transition:
    """The transition to make, or NotAllowed with the reason."""
    if action not in ACTIONS:
        raise NotAllowed(f"no action {action!r}: one of {', '.join(ACTIONS)}")
    if not may(role, action):
        raise NotAllowed(f"{role} users cannot {VERBS[action]} cases")
    if outcome is not None and outcome not in OUTCOMES:
        raise NotAllowed(f"no outcome {outcome!r}: one of {', '.join(OUTCOMES)}")
    if action == "outcome" and outcome is None:
        raise NotAllowed("which outcome? one of " + ", ".join(OUTCOMES))
    blank = note is None or not note.strip()
    if outcome in NEEDS_NOTE and blank:
        raise NotAllowed(f"the outcome {outcome!r} needs a note saying what came of it")
    if action == "note" and blank:
        raise NotAllowed("an empty note")
    if note is not None and len(note) > NOTE_MAX:
        raise NotAllowed(f"a note of at most {NOTE_MAX} characters")
    if action == "reassign" and to is None:
        raise NotAllowed("reassign to whom?")
    t = transition(status, action)
    if t is None:
        raise NotAllowed(f"cannot {VERBS[action]} a {status} case")
    return t


def lock(s: Session, case_id: int) -> Case | None:
    """The case, locked for this transaction (FOR UPDATE on PostgreSQL; on SQLite the session
    already holds the writer lock: `Database.session_for_update`)."""
    # populate_existing: act on the row as locked, not as this session may have read it before.
    stmt = select(Case).where(Case.id == case_id).execution_options(populate_existing=True)
    if s.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return s.scalar(stmt)


def apply(
    s: Session,
    case_id: int,
    action: str,
    actor: Actor,
    now: datetime,
    outcome: str | None = None,
    note: str | None = None,
    to: Actor | None = None,
) -> tuple[Case, CaseEvent]:
    """Lock the case, make `action` and record its event. Raises LookupError (no such case) or
    NotAllowed (then the case is left as it was). Locking again a case this transaction has
    locked already is harmless."""
    case = lock(s, case_id)
    if case is None:
        raise LookupError(f"no case {case_id}")
    event = step(case, action, actor, now, outcome, note, to)
    s.add(event)
    detail = {
        "take": {"assignee": case.assignee},
        "reassign": {"assignee": case.assignee},
        "resolve": {"outcome": case.outcome},
        "outcome": {"outcome": case.outcome},
    }.get(action, {})
    record(
        s,
        at=now,
        actor=actor.audited,
        action=f"case.{action}",
        target=f"case:{case.id}",
        source=actor.source,
        **detail,
    )
    # The business hears of a resolution or a reopening (issue 21), in this transaction.
    kind = {"resolved": "case.resolved", "reopened": "case.opened"}.get(event.kind)
    if kind is not None:
        data: dict[str, object] = {"case_id": case.id, "response_id": case.response_id}
        data |= {"outcome": case.outcome} if kind == "case.resolved" else {"reopened": True}
        emit(s, at=now, kind=kind, data=data, contact_id=case.contact_id)
    return case, event


def step(
    case: Case,
    action: str,
    actor: Actor,
    now: datetime,
    outcome: str | None = None,
    note: str | None = None,
    to: Actor | None = None,
) -> CaseEvent:
    """`apply` without the database: the case changed in memory, and its (unsaved) event:
    its text is the outcome, the note, or whom a reassigned case went to; `note` the note."""
    t = check(case.status, action, actor.role, outcome, note, to)
    if to is not None and t.action == "reassign":
        if to.id == case.assignee_id:
            raise NotAllowed(f"{to.name} has the case already")
        case.assignee, case.assignee_id = to.name, to.id
        case.taken_at = case.taken_at or now
    if t.assigns and case.assignee is None:
        case.assignee, case.assignee_id, case.taken_at = actor.name, actor.id, now
    status = case.status if t.status is None else t.status
    leaving = case.status == CaseStatus.RESOLVED and status != CaseStatus.RESOLVED
    # "Taken" means someone has it.
    case.status = status if status != CaseStatus.TAKEN or case.assignee else CaseStatus.OPEN
    if status == CaseStatus.RESOLVED and case.resolved_at is None:
        case.resolved_at = now
    if leaving:
        case.resolved_at, case.reopened_at = None, now
    if t.outcome == "set":
        case.outcome = outcome
    elif t.outcome == "clear":
        case.outcome = None
    said = note.strip() if note else None
    text = {"note": said, "reassign": to.name if to else None}.get(t.action, outcome)
    return CaseEvent(
        case_id=case.id,
        kind=t.event,
        actor_id=actor.id,
        actor_name=actor.name,
        text=text,
        note=None if t.action == "note" else said,
        at=now,
    )


@dataclass(frozen=True)
class Deadline:
    """A case in one of `statuses` created before `cut` is late: escalation re-alerts it
    (`escalate_<kind>`) and the dashboard shows it overdue."""

    kind: str  # "take" or "resolve"
    statuses: tuple[str, ...]
    cut: datetime


def deadlines(settings: Settings, now: datetime) -> tuple[Deadline, ...]:
    """STAFF_TAKE_MINUTES to take an open case; STAFF_RESOLVE_HOURS to resolve any case."""
    return (
        Deadline("take", (CaseStatus.OPEN,), now - settings.case_take_target),
        Deadline(
            "resolve", (CaseStatus.OPEN, CaseStatus.TAKEN), now - settings.case_resolve_target
        ),
    )


def past(deadline: Deadline) -> ColumnElement[bool]:
    """The cases past `deadline`, as a WHERE condition on `cases`."""
    return and_(Case.status.in_(deadline.statuses), Case.created_at < deadline.cut)


def late(settings: Settings, now: datetime, status: str, created_at: datetime) -> bool:
    """`overdue` for one case already loaded."""
    return any(status in d.statuses and created_at < d.cut for d in deadlines(settings, now))


def overdue(settings: Settings, now: datetime) -> ColumnElement[bool]:
    """The cases past any deadline at `now` (the one rule escalation and the dashboard share)."""
    return or_(*(past(d) for d in deadlines(settings, now)))


def ago(delta: timedelta) -> str:
    """A duration as staff read it: "4 min", "2 h 5 min", "3 d 1 h"."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def list_open_cases(s: Session, now: datetime) -> list[str]:
    """`npsbot cases`: one line per unresolved case, oldest first."""
    rows = s.execute(
        select(Case, Response.score, Response.channel, Contact.name)
        .join(Response, Response.id == Case.response_id)
        .join(Contact, Contact.id == Case.contact_id)
        .where(Case.status != CaseStatus.RESOLVED)
        .order_by(Case.created_at, Case.id)
    ).all()
    return [
        f"#{case.id:<5} {case.status:<6} {ago(now - case.created_at):>10}  {score:>2}/10  "
        f"{channel:<9} {name or '—':<20} {case.assignee or 'nobody'}"
        for case, score, channel, name in rows
    ]

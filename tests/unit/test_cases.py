"""The case workflow's transition table, without a database: for every status and action,
whether it is allowed, where it leads, and what it records."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from bot.staff.cases import ACTIONS, OUTCOMES, Actor, NotAllowed, check, may, step
from bot.storage.models import Case, CaseStatus, StaffRole

OPEN, TAKEN, RESOLVED = CaseStatus.OPEN, CaseStatus.TAKEN, CaseStatus.RESOLVED
T0 = datetime(2026, 3, 2, 9, 0)
NOW = T0 + timedelta(hours=2)
LUIS = Actor("1001", "Luis")
MARTA = Actor("1002", "Marta")

# (status, action) → (status after, event recorded); missing pairs are not allowed.
TABLE: dict[tuple[str, str], tuple[str, str]] = {
    (OPEN, "take"): (TAKEN, "taken"),
    (OPEN, "resolve"): (RESOLVED, "resolved"),
    (TAKEN, "resolve"): (RESOLVED, "resolved"),
    (RESOLVED, "reopen"): (TAKEN, "reopened"),
    (RESOLVED, "outcome"): (RESOLVED, "outcome"),
}
EVERY = [(status, action) for status in (OPEN, TAKEN, RESOLVED) for action in ACTIONS]


def case(status: str, assignee: Actor | None = None) -> Case:
    """A case as it is in `status` (resolved ones taken by `assignee`)."""
    c = Case(id=7, response_id=1, contact_id=1, status=status, created_at=T0)
    if assignee is not None:
        c.assignee, c.assignee_id, c.taken_at = assignee.name, assignee.id, T0
    if status == RESOLVED:
        c.resolved_at, c.outcome = T0, "refunded"
    return c


@pytest.mark.parametrize(("status", "action"), EVERY)
def test_every_status_and_action(status: str, action: str) -> None:
    outcome = "called_back" if action == "outcome" else None
    c = case(status, LUIS if status != OPEN else None)
    if (status, action) not in TABLE:
        with pytest.raises(NotAllowed, match=f"a {status} case"):
            check(status, action, StaffRole.AGENT, outcome)
        return
    after, event = TABLE[status, action]
    recorded = step(c, action, MARTA, NOW, outcome)
    assert (c.status, recorded.kind) == (after, event)
    assert (recorded.case_id, recorded.actor_id, recorded.actor_name, recorded.at) == (
        7,
        "1002",
        "Marta",
        NOW,
    )


@pytest.mark.parametrize("action", ACTIONS)
def test_read_only_users_may_do_nothing(action: str) -> None:
    assert may(StaffRole.AGENT, action)
    assert not may(StaffRole.VIEWER, action)
    with pytest.raises(NotAllowed, match="viewer users cannot"):
        check(OPEN, action, StaffRole.VIEWER)


def test_taking_makes_the_actor_the_assignee() -> None:
    c = case(OPEN)
    step(c, "take", LUIS, NOW)
    assert (c.assignee, c.assignee_id, c.taken_at) == ("Luis", "1001", NOW)


def test_resolving_an_open_case_takes_it_and_keeps_whoever_had_it() -> None:
    c = case(OPEN)
    event = step(c, "resolve", MARTA, NOW, "replaced")
    assert (c.assignee, c.taken_at, c.resolved_at) == ("Marta", NOW, NOW)
    assert (c.outcome, event.text) == ("replaced", "replaced")
    taken = case(TAKEN, LUIS)
    step(taken, "resolve", MARTA, NOW)
    assert (taken.assignee, taken.taken_at, taken.outcome) == ("Luis", T0, None)


def test_reopening_goes_back_to_whoever_had_it_or_to_open() -> None:
    c = case(RESOLVED, LUIS)
    step(c, "reopen", MARTA, NOW)
    assert (c.status, c.assignee, c.resolved_at, c.outcome, c.reopened_at) == (
        TAKEN,
        "Luis",
        None,
        None,
        NOW,
    )
    nobody = case(RESOLVED)
    step(nobody, "reopen", MARTA, NOW)
    assert (nobody.status, nobody.assignee) == (OPEN, None)


def test_an_outcome_is_one_of_the_outcomes() -> None:
    c = case(RESOLVED, LUIS)
    step(c, "outcome", MARTA, NOW, "no_action")
    assert (c.outcome, c.resolved_at) == ("no_action", T0)
    with pytest.raises(NotAllowed, match="no outcome 'resolved'"):
        check(OPEN, "resolve", StaffRole.AGENT, "resolved")
    with pytest.raises(NotAllowed, match="which outcome"):
        check(RESOLVED, "outcome", StaffRole.AGENT)
    assert list(OUTCOMES) == ["called_back", "refunded", "replaced", "no_action"]


def test_an_unknown_action_is_refused() -> None:
    with pytest.raises(NotAllowed, match="no action 'close'"):
        check(OPEN, "close", StaffRole.AGENT)

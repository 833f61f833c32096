"""The case workflow's transition table, without a database: for every status and action,
whether it is allowed, where it leads, and what it records."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from bot.staff.cards import CODES
from bot.staff.cases import (
    ACTIONS,
    NOTE_MAX,
    OUTCOMES,
    QUICK_OUTCOMES,
    Actor,
    NotAllowed,
    check,
    may,
    step,
)
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
    (OPEN, "reassign"): (TAKEN, "reassigned"),
    (TAKEN, "reassign"): (TAKEN, "reassigned"),
    (OPEN, "note"): (OPEN, "note"),
    (TAKEN, "note"): (TAKEN, "note"),
    (RESOLVED, "note"): (RESOLVED, "note"),
}
# What each action needs besides the case: an outcome, a note, someone to hand it to.
NEEDS: dict[str, dict[str, object]] = {
    "outcome": {"outcome": "called_back"},
    "note": {"note": "Llamé dos veces, sin respuesta"},
    "reassign": {"to": Actor("dashboard:9", "ana")},
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
    needs: dict[str, Any] = NEEDS.get(action, {})
    c = case(status, LUIS if status != OPEN else None)
    if (status, action) not in TABLE:
        with pytest.raises(NotAllowed, match=f"a {status} case"):
            check(status, action, StaffRole.AGENT, **needs)
        return
    after, event = TABLE[status, action]
    recorded = step(c, action, MARTA, NOW, **needs)
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
    assert list(OUTCOMES) == ["called_back", "refunded", "replaced", "no_action", "other"]


def test_an_unknown_action_is_refused() -> None:
    with pytest.raises(NotAllowed, match="no action 'close'"):
        check(OPEN, "close", StaffRole.AGENT)


@pytest.mark.parametrize(("status", "action"), [("open", "resolve"), ("resolved", "outcome")])
def test_the_outcome_other_needs_a_note_and_keeps_it(status: str, action: str) -> None:
    with pytest.raises(NotAllowed, match="needs a note"):
        check(status, action, StaffRole.AGENT, "other")
    with pytest.raises(NotAllowed, match="needs a note"):
        check(status, action, StaffRole.AGENT, "other", note="   ")
    c = case(status, LUIS)
    event = step(c, action, MARTA, NOW, "other", note=" Le regalamos un cupón ")
    assert (c.status, c.outcome) == (RESOLVED, "other")
    assert (event.text, event.note) == ("other", "Le regalamos un cupón")


def test_any_outcome_may_carry_a_note() -> None:
    event = step(case(TAKEN, LUIS), "resolve", LUIS, NOW, "refunded", note="Reembolso parcial")
    assert (event.text, event.note) == ("refunded", "Reembolso parcial")
    assert step(case(TAKEN, LUIS), "resolve", LUIS, NOW, "refunded").note is None


def test_the_cards_buttons_leave_out_the_outcome_a_tap_cannot_explain() -> None:
    assert QUICK_OUTCOMES == ("called_back", "refunded", "replaced", "no_action")
    assert sorted(name for _action, name in CODES.values() if name) == sorted(QUICK_OUTCOMES)


@pytest.mark.parametrize("status", [OPEN, TAKEN])
def test_reassigning_hands_the_case_over(status: str) -> None:
    ana = Actor("dashboard:9", "ana")
    c = case(status, LUIS if status == TAKEN else None)
    event = step(c, "reassign", MARTA, NOW, to=ana)
    assert (c.status, c.assignee, c.assignee_id) == (TAKEN, "ana", "dashboard:9")
    # Taken when it was first taken: reassigning does not reset the time it took to take.
    assert c.taken_at == (T0 if status == TAKEN else NOW)
    assert (event.kind, event.actor_name, event.text) == ("reassigned", "Marta", "ana")


def test_reassigning_needs_someone_else() -> None:
    with pytest.raises(NotAllowed, match="to whom"):
        check(TAKEN, "reassign", StaffRole.AGENT)
    with pytest.raises(NotAllowed, match="Luis has the case already"):
        step(case(TAKEN, LUIS), "reassign", MARTA, NOW, to=LUIS)


@pytest.mark.parametrize("status", [OPEN, TAKEN, RESOLVED])
def test_a_note_changes_nothing_but_the_record(status: str) -> None:
    c = case(status, LUIS if status != OPEN else None)
    before = (c.status, c.assignee, c.outcome, c.resolved_at, c.taken_at)
    event = step(c, "note", MARTA, NOW, note="  Pidió que la llamen por la tarde ")
    assert (c.status, c.assignee, c.outcome, c.resolved_at, c.taken_at) == before
    assert (event.kind, event.text, event.note) == (
        "note",
        "Pidió que la llamen por la tarde",
        None,
    )


@pytest.mark.parametrize("note", ["", "  \n "])
def test_an_empty_note_is_refused(note: str) -> None:
    with pytest.raises(NotAllowed, match="an empty note"):
        check(OPEN, "note", StaffRole.AGENT, note=note)


def test_a_note_has_a_length_limit() -> None:
    check(OPEN, "note", StaffRole.AGENT, note="x" * NOTE_MAX)
    with pytest.raises(NotAllowed, match=f"at most {NOTE_MAX}"):
        check(OPEN, "note", StaffRole.AGENT, note="x" * (NOTE_MAX + 1))

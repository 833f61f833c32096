"""Insights: NPS, trend, themes, breakdowns and response lists, as plain queries over a Session.

`filters` (query arguments → conditions), `reports` (aggregates), `lists` (responses, open
cases), `rollup` (daily counts and their refresh), `plan` (rollup + raw), `sql` (shared
expressions), `exports` (terminal report, CSV / XLSX). Callers import the module they use.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bot.storage.models import Case, CaseStatus


def take_case(s: Session, case_id: int, who: str, now: datetime) -> Case:
    """Staff takes a case (open → taken); resolving: `resolve_case`. Raises LookupError."""
    case = s.get(Case, case_id)
    if case is None:
        raise LookupError(f"no case {case_id}")
    if case.status == CaseStatus.OPEN:
        case.status = CaseStatus.TAKEN
        case.assignee = who
        case.taken_at = now
    return case


def resolve_case(s: Session, case_id: int, who: str, now: datetime) -> Case:
    case = s.get(Case, case_id)
    if case is None:
        raise LookupError(f"no case {case_id}")
    if case.status != CaseStatus.RESOLVED:
        case.status = CaseStatus.RESOLVED
        case.assignee = case.assignee or who
        case.resolved_at = now
        case.outcome = case.outcome or "resolved"
    return case

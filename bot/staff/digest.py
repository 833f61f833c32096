"""The daily or weekly digest for the staff chat: NPS with its margin of error, the change from
the previous period and whether it is significant, responses per channel, top detractor
themes, and the open cases with their ages. Periods are UTC days / ISO weeks (Monday first)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.staff.cases import ago
from bot.storage.models import Case, CaseStatus, Contact, Response
from scoring import DEFAULT_TAXONOMY, Comparison, NpsResult, compare_nps, nps

TOP_THEMES = 5
OPEN_CASES = 10


def bounds(period: str, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of the last complete period before `now` (UTC)."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "weekly":
        end = midnight - timedelta(days=midnight.weekday())
        return end - timedelta(days=7), end
    return midnight - timedelta(days=1), midnight


@dataclass(frozen=True)
class OpenCase:
    id: int
    age: timedelta
    assignee: str | None
    score: int
    customer: str


@dataclass(frozen=True)
class Digest:
    period: str
    start: datetime
    end: datetime
    current: NpsResult
    previous: NpsResult
    comparison: Comparison | None
    per_channel: dict[str, int]
    top_themes: list[tuple[str, int]]
    open_cases: list[OpenCase]
    open_total: int


def _responses(s: Session, start: datetime, end: datetime) -> list[Response]:
    return list(
        s.scalars(
            select(Response).where(Response.completed_at >= start, Response.completed_at < end)
        )
    )


def build(s: Session, period: str, end: datetime, now: datetime) -> Digest:
    length = timedelta(days=7 if period == "weekly" else 1)
    start = end - length
    rows = _responses(s, start, end)
    before = _responses(s, start - length, start)
    current, previous = nps([r.score for r in rows]), nps([r.score for r in before])
    comparison = compare_nps(previous, current) if current.n and previous.n else None
    themes = Counter(t for r in rows if r.category == "detractor" for t in r.themes)
    cases = s.execute(
        select(Case, Response.score, Contact.name)
        .join(Response, Response.id == Case.response_id)
        .join(Contact, Contact.id == Case.contact_id)
        .where(Case.status != CaseStatus.RESOLVED)
        .order_by(Case.created_at)
    ).all()
    open_cases = [
        OpenCase(case.id, now - case.created_at, case.assignee, score, name or "—")
        for case, score, name in cases
    ]
    return Digest(
        period=period,
        start=start,
        end=end,
        current=current,
        previous=previous,
        comparison=comparison,
        per_channel=dict(Counter(r.channel for r in rows).most_common()),
        top_themes=themes.most_common(TOP_THEMES),
        open_cases=open_cases[:OPEN_CASES],
        open_total=len(open_cases),
    )


def _nps(result: NpsResult) -> str:
    if result.score is None or result.margin_of_error is None:
        return "no responses"
    small = " (small sample)" if result.small_sample else ""
    return f"{result.score:+.0f} ± {result.margin_of_error:.0f}{small} (n={result.n})"


def render(d: Digest, now: datetime) -> str:
    label = "Week" if d.period == "weekly" else "Day"
    last = (d.end - timedelta(days=1)).date().isoformat()
    span = d.start.date().isoformat() + ("" if d.period == "daily" else f" – {last}")
    lines = [f"📊 NPS digest · {label} {span}", f"NPS {_nps(d.current)}"]
    if d.comparison is not None:
        if d.current.small_sample or d.previous.small_sample:
            verdict = "too few responses to tell if it is significant"
        else:
            verdict = "significant" if d.comparison.significant else "not significant"
            verdict += f", p={d.comparison.p_value:.2f}"
        lines.append(f"Change {d.comparison.change:+.0f} from {_nps(d.previous)} ({verdict})")
    else:
        lines.append(f"Previous period: {_nps(d.previous)}")
    if d.per_channel:
        lines.append("Responses: " + ", ".join(f"{c} {n}" for c, n in d.per_channel.items()))
    if d.top_themes:
        named = [f"{DEFAULT_TAXONOMY.label(t)} {n}" for t, n in d.top_themes]
        lines.append("Detractor themes: " + ", ".join(named))
    lines.append(f"Open cases: {d.open_total}")
    for c in d.open_cases:
        owner = c.assignee or "nobody"
        lines.append(f"  #{c.id} {c.score}/10 {c.customer} · {ago(c.age)} · {owner}")
    return "\n".join(lines)

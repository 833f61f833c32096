"""Reports: NPS, distribution, response rate, trend, themes and breakdowns.

Every aggregate is computed in SQL (`GROUP BY` score, category, period or theme) and turned into
numbers with `scoring.nps` / `scoring.compare_nps`; nothing here recomputes statistics. Each one
reads the rollup where it can (`bot.insights.plan`) and the raw tables for the rest. The same
functions serve the reporting API, the dashboard, `npsbot report` and `npsbot export`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import Select, func, literal_column, select, union_all
from sqlalchemy.orm import Session

from bot.insights.filters import (
    CATEGORIES,
    META_KEY_RE,
    FilterError,
    Filters,
    category_of,
    filtered,
    kind_of,
    meta_conditions,
    response_conditions,
    sent_conditions,
)
from bot.insights.plan import fetch, plan_for, raw, rolled
from bot.insights.rollup import ROLLUP_KEY
from bot.insights.segments import PREFIX, attribute_counts, attribute_key
from bot.insights.sql import (
    ANSWERED_STATES,
    day_of,
    in_ranges,
    meta_value,
    next_period,
    period_start,
    theme_elements,
)
from bot.storage.models import (
    Invitation,
    InvitationState,
    NpsDay,
    NpsStoreDay,
    RateDay,
    RateStoreDay,
    Response,
    Survey,
    ThemeDay,
    ThemeStoreDay,
)
from scoring import NpsResult, compare_nps, nps

MAX_PERIODS = 1000  # points a trend returns at most
DIMENSIONS = ("channel", "survey", "kind", "language")  # besides metadata keys and attributes


def _result(counts: Mapping[str, int]) -> NpsResult:
    return nps(
        promoters=counts.get("promoter", 0),
        passives=counts.get("passive", 0),
        detractors=counts.get("detractor", 0),
    )


def _round(x: float | None, digits: int = 1) -> float | None:
    return None if x is None else round(x, digits)


def result_dict(r: NpsResult) -> dict[str, Any]:
    """An `NpsResult` as the API shows it (NPS points to 0.1, shares to 0.0001)."""
    return {
        "nps": _round(r.score),
        "margin_of_error": _round(r.margin_of_error),
        "low": _round(r.low),
        "high": _round(r.high),
        "responses": r.n,
        "promoters": r.promoters,
        "passives": r.passives,
        "detractors": r.detractors,
        "promoter_share": round(r.promoter_share, 4),
        "passive_share": round(r.passive_share, 4),
        "detractor_share": round(r.detractor_share, 4),
        "small_sample": r.small_sample,
    }


def distribution(s: Session, f: Filters) -> list[int]:
    """How many answers gave each score 0–10 (`GROUP BY score`; rollup + raw)."""
    plan = plan_for(s, f)
    stmt: Any = filtered(
        s, select(Response.score, func.count()).select_from(Response), f, plan is not None
    )
    parts: list[Any] = []
    if plan is not None:
        parts += rolled(s, f, plan, NpsDay, NpsStoreDay, ["score", "sum:responses"])
    rows = fetch(s, parts + raw(stmt.group_by(Response.score), Response.scored_at, plan))
    dist = [0] * 11
    for score, n in rows:
        dist[int(score)] += int(n)
    return dist


def category_counts(dist: Sequence[int]) -> dict[str, int]:
    """Answers per group from a distribution (the groups of `scoring.classify`)."""
    counts = dict.fromkeys(CATEGORIES, 0)
    for score, n in enumerate(dist):
        counts[category_of(score)] += n
    return counts


def nps_from_distribution(dist: Sequence[int]) -> NpsResult:
    return _result(category_counts(dist))


def response_rate(s: Session, f: Filters) -> dict[str, Any]:
    """Answered / delivered for the invitations sent in the period, grouped by channel.

    Delivered: the provider accepted the question (`sent_at` is set). Answered: it has a response.
    Read from the invitation's state (awaiting the reason, completed) plus the few responses whose
    invitation moved on (late answers, opt-out after the score): no join over every response.
    """
    conds = sent_conditions(s, f)
    plan = plan_for(s, f, sent=True)
    conds += meta_conditions(s, f, plan is not None)
    delivered: dict[str, int] = defaultdict(int)
    answered: dict[str, int] = defaultdict(int)
    parts: list[Any] = []
    if plan is not None:
        cols = ["channel", "sum:delivered", "sum:answered"]
        parts += rolled(s, f, plan, RateDay, RateStoreDay, cols, sent=True)
    answered_state = Invitation.state.in_(ANSWERED_STATES)
    stmt = (
        select(Invitation.channel, func.count(), func.count().filter(answered_state))
        .where(*conds)
        .group_by(Invitation.channel)
    )
    for channel, n, ans in fetch(s, parts + raw(stmt, Invitation.sent_at, plan)):
        delivered[channel or "none"] += int(n)
        answered[channel or "none"] += int(ans)
    if plan is not None and not plan[0].raw:
        return _rates(delivered, answered)
    if plan is not None:
        conds.append(in_ranges(Invitation.sent_at, plan[0].raw))
    joined = (
        select(Invitation.channel, func.count())
        .select_from(Response)
        .join(Invitation, Invitation.id == Response.invitation_id)
        .where(*conds, ~answered_state)
        .group_by(Invitation.channel)
    )
    late = joined.where(Response.late.is_(True))
    opted_out = joined.where(
        Response.late.is_(False), Invitation.state == InvitationState.OPTED_OUT
    )
    # `answered_anyway` as two SELECTs (each keeps its own index), one round trip.
    for channel, n in s.execute(union_all(late, opted_out)):
        answered[channel or "none"] += int(n)
    return _rates(delivered, answered)


def _rates(delivered: Mapping[str, int], answered: Mapping[str, int]) -> dict[str, Any]:
    per = {ch: _rate(delivered[ch], answered.get(ch, 0)) for ch in sorted(delivered)}
    return {
        **_rate(sum(delivered.values()), sum(answered.values())),
        "by_channel": per,
    }


def _rate(delivered: int, answered: int) -> dict[str, Any]:
    return {
        "delivered": delivered,
        "answered": answered,
        "rate": round(answered / delivered, 4) if delivered else None,
    }


def nps_report(s: Session, f: Filters) -> dict[str, Any]:
    """`GET /api/v1/nps`: the NPS with its margin, group counts and shares, rate, distribution."""
    dist = distribution(s, f)
    result = nps_from_distribution(dist)
    rate = response_rate(s, f)
    return {
        **result_dict(result),
        "response_rate": rate["rate"],
        "delivered": rate["delivered"],
        "answered": rate["answered"],
        "distribution": dist,
        "filters": f.to_dict(),
    }


def trend(s: Session, f: Filters, interval: str = "week") -> dict[str, Any]:
    """NPS per period (UTC days, ISO weeks or months) with a margin, and the last change."""
    day = day_of(s, Response.scored_at).label("day")
    plan = plan_for(s, f)
    stmt: Any = filtered(
        s, select(day, Response.score, func.count()).select_from(Response), f, plan is not None
    )
    parts: list[Any] = []
    if plan is not None:
        parts += rolled(s, f, plan, NpsDay, NpsStoreDay, ["day", "score", "sum:responses"])
    rows = fetch(s, parts + raw(stmt.group_by(day, Response.score), Response.scored_at, plan))
    buckets: dict[date, dict[str, int]] = defaultdict(lambda: dict.fromkeys(CATEGORIES, 0))
    for d, score, n in rows:
        d = d if isinstance(d, date) else date.fromisoformat(str(d)[:10])
        buckets[period_start(d, interval)][category_of(score)] += int(n)
    points: list[dict[str, Any]] = []
    results: list[NpsResult] = []
    if buckets:
        # From the first period with answers to the last; gaps between them are null points.
        cur, last = min(buckets), max(buckets)
        while cur <= last and len(points) < MAX_PERIODS:
            nxt = next_period(cur, interval)
            r = _result(buckets.get(cur, {}))
            results.append(r)
            points.append({"period": cur.isoformat(), "end": nxt.isoformat(), **result_dict(r)})
            cur = nxt
    change: dict[str, Any] | None = None
    if len(results) >= 2:
        before, after = results[-2], results[-1]
        if before.n and after.n:
            cmp = compare_nps(before, after)
            change = {
                "from_period": points[-2]["period"],
                "to_period": points[-1]["period"],
                "change": round(cmp.change, 1),
                "margin": round(cmp.margin, 1),
                "p_value": round(cmp.p_value, 4),
                "significant": cmp.significant,
            }
        else:
            change = {
                "from_period": points[-2]["period"],
                "to_period": points[-1]["period"],
                "change": None,
                "margin": None,
                "p_value": None,
                "significant": False,
                "reason": "a period without answers cannot be compared",
            }
    return {"interval": interval, "points": points, "change": change, "filters": f.to_dict()}


def _theme_rows(s: Session, f: Filters) -> list[Any]:
    elements = theme_elements(s)
    theme = elements.c.value.label("theme")
    plan = plan_for(s, f)
    stmt = filtered(
        s,
        select(theme, Response.score, func.count())
        .select_from(Response)
        .join(elements, literal_column("true")),
        f,
        plan is not None,
    )
    parts: list[Any] = []
    if plan is not None:
        parts += rolled(s, f, plan, ThemeDay, ThemeStoreDay, ["theme", "score", "sum:mentions"])
    rows = fetch(s, parts + raw(stmt.group_by(theme, Response.score), Response.scored_at, plan))
    return rows


def themes(s: Session, f: Filters, limit: int = 50) -> dict[str, Any]:
    """Theme counts by category, and the NPS among customers who mention each theme."""
    per: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(CATEGORIES, 0))
    for theme, score, n in _theme_rows(s, f):
        per[str(theme)][category_of(score)] += int(n)
    dist = distribution(s, f)
    totals = category_counts(dist)
    items: list[dict[str, Any]] = []
    for theme, counts in per.items():
        r = _result(counts)
        items.append(
            {
                "theme": theme,
                "mentions": r.n,
                "promoters": r.promoters,
                "passives": r.passives,
                "detractors": r.detractors,
                # Share of each group's answers that mention the theme.
                "detractor_share": round(r.detractors / totals["detractor"], 4)
                if totals["detractor"]
                else 0.0,
                "promoter_share": round(r.promoters / totals["promoter"], 4)
                if totals["promoter"]
                else 0.0,
                "nps": _round(r.score),
                "margin_of_error": _round(r.margin_of_error),
            }
        )
    items.sort(key=lambda t: (-t["mentions"], t["theme"]))
    return {"themes": items[:limit], "responses": sum(totals.values()), "filters": f.to_dict()}


def top_themes(report: Mapping[str, Any], category: str, n: int = 5) -> list[dict[str, Any]]:
    """The themes most mentioned by one group (from a `themes` report)."""
    key = {"promoter": "promoters", "passive": "passives", "detractor": "detractors"}[category]
    rows = [t for t in report["themes"] if t[key]]
    rows.sort(key=lambda t: (-t[key], t["theme"]))
    return rows[:n]


def breakdown(s: Session, f: Filters, by: str) -> list[dict[str, Any]]:
    """NPS per channel, survey, kind (transactional or relational), language, metadata key
    (`meta.store` or `store`), or contact attribute (`attribute.segment`, with response rates)."""
    if by.startswith(PREFIX):
        return _by_attribute(s, f, attribute_key(by))
    stmt: Select[Any] | None
    names: dict[Any, str] = {}
    key = by[5:] if by.startswith("meta.") else by
    if by not in DIMENSIONS and not META_KEY_RE.match(key):
        raise FilterError("by", f"{by!r}: use {', '.join(DIMENSIONS)} or a metadata key")
    # The rollup column the breakdown groups by (None: a metadata key it does not keep).
    rolled_by = {
        "channel": "channel",
        "survey": "survey_id",
        "kind": "survey_id",
        "language": "language",
    }.get(by)
    if rolled_by is None and key == ROLLUP_KEY:
        rolled_by = "store"
    plan = plan_for(s, f, by_store=rolled_by == "store") if rolled_by else None
    few = plan is not None
    if by == "channel":
        dim: Any = Response.channel
        stmt = select(dim, Response.score, func.count()).select_from(Response)
        stmt = filtered(s, stmt, f, few)
    elif by in ("survey", "kind"):
        # Group by id (an index-only column) and name the groups afterwards: no join.
        dim = Response.survey_id
        known = s.execute(select(Survey.id, Survey.key, Survey.options))
        names = {i: (kind_of(o) if by == "kind" else k) for i, k, o in known}
        stmt = select(dim, Response.score, func.count()).select_from(Response)
        stmt = filtered(s, stmt, f, few)
    else:
        dim = Invitation.language if by == "language" else meta_value(key)
        stmt = select(dim, Response.score, func.count()).select_from(Response)
        stmt = stmt.join(Invitation, Invitation.id == Response.invitation_id)
        stmt = stmt.where(*response_conditions(s, f, few))
    parts: list[Any] = []
    if plan is not None and rolled_by is not None:
        cols = [rolled_by, "score", "sum:responses"]
        parts += rolled(s, f, plan, NpsDay, NpsStoreDay, cols)
    rows = fetch(s, parts + raw(stmt.group_by(dim, Response.score), Response.scored_at, plan))
    per: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(CATEGORIES, 0))
    for value, score, n in rows:
        label = names.get(value, str(value)) if names else str(value)
        per["(none)" if value is None else label][category_of(score)] += int(n)
    rows = [{"value": v, **result_dict(_result(c))} for v, c in per.items()]
    rows.sort(key=lambda r: (-r["responses"], r["value"]))
    return rows


def _by_attribute(s: Session, f: Filters, key: str) -> list[dict[str, Any]]:
    per, rates = attribute_counts(s, f, key)
    rows = [
        {
            "value": v,
            **result_dict(_result(per.get(v, {}))),
            "response_rate": _rate(*rates.get(v, (0, 0))),
        }
        for v in set(per) | set(rates)
    ]
    rows.sort(key=lambda r: (-r["responses"], r["value"]))
    return rows


def survey_keys(s: Session) -> list[str]:
    """Known survey keys (for filter menus)."""
    return list(s.scalars(select(Survey.key).order_by(Survey.key)))


def sparkline(values: Sequence[float | None]) -> str:
    """A one-line chart of the NPS series for terminals (gaps as spaces)."""
    bars = "▁▂▃▄▅▆▇█"
    known = [v for v in values if v is not None]
    if not known:
        return ""
    lo, hi = min(known), max(known)
    span = hi - lo or 1.0
    return "".join(" " if v is None else bars[min(7, int((v - lo) / span * 7.999))] for v in values)

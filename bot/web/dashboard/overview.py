"""`/dashboard`: the overview — NPS now, trend, distribution, breakdowns, themes, comments and
the open cases."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from flask import request, url_for

from bot.definitions import KINDS
from bot.insights import filters, lists, reports
from bot.staff import cases
from bot.web.context import runtime
from bot.web.dashboard import charts, followup, i18n
from bot.web.dashboard.core import app_of, bp, login_required, page
from bot.web.dashboard.i18n import N_, _

DEFAULT_DAYS = 90
# Labels of a survey's kind (the filter menu, the trend's lines).
KIND_LABELS = {"transactional": N_("Transactional"), "relational": N_("Relational")}


def benchmark() -> tuple[str, float] | None:
    """The industry benchmark line: `NPS_BENCHMARK="Retail=45"` (or just a number)."""
    raw = runtime().settings.nps_benchmark
    if not raw:
        return None
    label, _sep, value = str(raw).rpartition("=")
    try:
        return (label.strip() or _("Industry benchmark"), float(value))
    except ValueError:
        return None


@bp.get("")
@bp.get("/")
@login_required
def index() -> Any:
    rt = runtime()
    now = rt.clock()
    args = request.args.to_dict(flat=False)
    args = {k: v for k, v in args.items() if any(x.strip() for x in v)}
    if "from" not in args and "to" not in args:
        args["from"] = [(now - timedelta(days=DEFAULT_DAYS - 1)).date().isoformat()]
    store_key = request.args.get("by_meta", "store")
    comments_cat = request.args.get("comments", "")
    try:
        f = filters.parse_filters(args, allow=("by_meta", "comments"))
        with rt.db.session() as s:
            dist = reports.distribution(s, f)
            result = reports.nps_from_distribution(dist)
            rate = reports.response_rate(s, f)
            trend = reports.trend(s, f, filters.parse_interval(args, "week"))
            by_channel = reports.breakdown(s, f, "channel")
            by_survey = reports.breakdown(s, f, "survey")
            by_store = reports.breakdown(s, f, store_key)
            themes = reports.themes(s, f)
            cf = f
            if comments_cat in filters.CATEGORIES:
                cf = filters.Filters(**{**f.__dict__, "categories": (comments_cat,)})
            comments = lists.responses(
                s, filters.Filters(**{**cf.__dict__, "has_comment": True}), limit=15
            ).items
            open_cases = lists.open_cases(s, f, now, limit=8)
            for c in open_cases["items"]:  # red past the escalation's own deadlines
                when = datetime.fromisoformat(c["created_at"].replace("Z", "+00:00"))
                c["overdue"] = cases.late(rt.settings, now, c["status"], when)
            follow = followup.followup_context(s, f, now, store_key)
            surveys = reports.survey_keys(s)
            # No kind chosen and both kinds exist: the trend draws each kind's line too.
            kinds = {g["value"] for g in reports.breakdown(s, f, "kind")} if not f.kinds else set()
            lines = {
                _(KIND_LABELS[k]): reports.trend(s, replace(f, kinds=(k,)), trend["interval"])[
                    "points"
                ]
                for k in KINDS
                if len(kinds) > 1
            }
    except filters.FilterError as exc:
        return page("dashboard/error.html", 422, error=exc)
    # Filter menu: configured channels and any seen here (no DISTINCT over every response).
    seen = {g["value"] for g in by_channel} | (set(rate["by_channel"]) - {"none"})
    channels = sorted(set(rt.channels) | set(f.channels) | seen)
    bench = benchmark()
    query = {k: v[0] for k, v in args.items() if v}
    return page(
        "dashboard/overview.html",
        f=f,
        query=query,
        qs=lambda **kw: "?" + urlencode({**query, **kw}),
        surveys=surveys,
        channels=channels,
        store_key=store_key,
        result=reports.result_dict(result),
        rate=rate,
        dist=dist,
        trend=trend,
        trend_svg=charts.trend_chart(trend["points"], bench, lines=lines),
        kinds=[(k, _(KIND_LABELS[k])) for k in KINDS],
        dist_svg=charts.distribution_chart(dist),
        by_channel=by_channel,
        by_survey=by_survey,
        by_store=[g for g in by_store if g["value"] != "(none)"],
        top_detractor=reports.top_themes(themes, "detractor"),
        top_promoter=reports.top_themes(themes, "promoter"),
        comments=comments,
        comments_cat=comments_cat,
        cases=open_cases,
        outcomes=cases.QUICK_OUTCOMES,  # "other" needs a note: on the case's page
        benchmark=bench,
        channel_label=i18n.channel,
        case_url=_linker("dashboard.case", "case_id"),
        cases_url=url_for("dashboard.cases")
        if "dashboard.cases" in app_of().view_functions
        else None,
        followup=follow,
    )


def _linker(endpoint: str, arg: str | None = None) -> Any:
    """A link (or, with `arg`, a link maker) to a page another module may register; None while
    it does not."""
    if endpoint not in app_of().view_functions:
        return None
    if arg is None:
        return url_for(endpoint)

    def link(value: object) -> str:
        values: dict[str, Any] = {arg: value}
        return url_for(endpoint, **values)

    return link

"""`/dashboard/cases`: every case, filtered and sorted from the query string (a link can be
shared), 50 a page, with the count per status on top. Overdue is the escalation's rule
(`bot.staff.cases.overdue`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import request, url_for

from bot.insights import caselist
from bot.insights.filters import FilterError
from bot.staff import cases as workflow
from bot.web.context import runtime
from bot.web.dashboard.core import app_of, bp, login_required, page
from bot.web.dashboard.i18n import N_, _

# The filters' names as the form shows them (an error names the field).
FIELDS = {
    "status": N_("Status"),
    "assignee": N_("Assignee"),
    "store": N_("Store"),
    "channel": N_("Channel"),
    "score": N_("Score"),
    "age": N_("Older than"),
    "overdue": N_("Overdue"),
    "sort": N_("Sort by"),
    "dir": N_("Order"),
    "page": N_("Page"),
}
SHORT = 280  # a comment's characters in the list (the case page shows it whole)


def short(text: str | None, size: int = SHORT) -> str:
    """`text` cut at a word near `size` characters, with an ellipsis when cut."""
    if not text or len(text) <= size:
        return text or ""
    cut = text[:size]
    space = cut.rfind(" ")
    return (cut[:space] if space > size * 0.6 else cut).rstrip(" ,.;:") + "…"


def hours(age: Any) -> float:
    return float(age.total_seconds()) / 3600


def link(endpoint: str, **values: Any) -> str | None:
    """A link to a page another module may register; None while it does not."""
    return url_for(endpoint, **values) if endpoint in app_of().view_functions else None


@bp.get("/cases")
@login_required
def cases() -> Any:
    rt = runtime()
    now = rt.clock()
    try:
        q = caselist.parse_query(request.args)
        error = None
    except FilterError as exc:  # the form again, the field named
        q, error = caselist.DEFAULT, exc
    with rt.db.session() as s:
        result = (
            caselist.cases(s, q, now, workflow.overdue(rt.settings, now))
            if error is None
            else {"items": [], "counts": {}, "total": 0, "pages": 1}
        )
        names = caselist.assignees(s)
    # Show the request's own values in the form, even a wrong one (to correct it).
    shown = {k: v for k, v in request.args.items() if k != "page"} if error else q.args()
    return page(
        "dashboard/cases.html",
        422 if error else 200,
        q=q,
        shown=shown,
        error=error,
        fields={k: _(v) for k, v in FIELDS.items()},
        result=result,
        assignees=names,
        nobody=caselist.NOBODY,
        channels=sorted(set(rt.channels) | ({q.channel} if q.channel else set())),
        statuses=caselist.STATUSES,
        sorts=caselist.SORTS,
        qs=lambda **kw: "?" + urlencode(q.args(**kw)),
        short=short,
        hours=hours,
        case_url=lambda cid: link("dashboard.case", case_id=cid),
        customer_url=lambda cid: link("dashboard.customer", contact_id=cid),
    )

"""The dashboard's follow-up card: `followup_context` gives `templates/dashboard/_followup.html`
its `followup` dict (the overview view calls it with the page's filters).

The numbers are `bot.insights.followup.report`'s, as the API gives them; this adds the durations
as staff read them ("2 h 5 min", `bot.staff.cases.ago`). No blueprint: the overview's own.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy.orm import Session

from bot.insights import followup
from bot.insights.filters import Filters
from bot.staff import cases
from bot.staff.cases import ago
from bot.web.context import runtime

RECOVERY_ITEMS = 10  # the card lists the latest few; the API pages the rest


def duration(minutes: float | None) -> str | None:
    """Minutes as staff read them ("45 min", "2 h 5 min", "3 d 1 h"); None stays None."""
    return None if minutes is None else ago(timedelta(minutes=minutes))


def _labelled(groups: Iterable[dict[str, Any]]) -> None:
    for g in groups:
        for step in ("time_to_take", "time_to_resolve"):
            d = g[step]
            d["median_label"] = duration(d["median_minutes"])
            d["p90_label"] = duration(d["p90_minutes"])


def followup_context(
    s: Session, f: Filters, now: datetime, store_key: str = followup.DEFAULT_STORE_KEY
) -> dict[str, Any]:
    """The `followup` template variable. Raises `FilterError` for a bad `store_key` (the page
    shows it as it shows any bad filter)."""
    settings = runtime().settings
    late = partial(cases.late, settings, now)
    data = followup.report(s, f, now, settings, store_key, RECOVERY_ITEMS, late)
    _labelled([data["overall"], *data["by_store"], *data["by_agent"]])
    data["take_target_label"] = ago(settings.case_take_target)
    data["resolve_target_label"] = ago(settings.case_resolve_target)
    return data

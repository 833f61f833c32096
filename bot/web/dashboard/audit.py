"""`/dashboard/audit` (owners only): the audit trail, newest first, with filters (actor, action,
target, days) and pages. The query is `bot.accounts.audit.events`, the one `npsbot audit` runs;
each action is shown by its label (an action this page does not know, as it is stored)."""

from __future__ import annotations

from datetime import UTC, date
from typing import Any
from urllib.parse import urlencode

from flask import request

from bot.accounts.audit import PAGE, AuditFilter, events
from bot.storage.models import StaffRole
from bot.web.context import runtime
from bot.web.dashboard.core import bp, page, roles_required
from bot.web.dashboard.i18n import N_, _

FILTERS = ("actor", "action", "target", "since", "until")
MAX_PAGE = 10_000
ACTIONS: dict[str, str] = {
    "auth.login": N_("Logged in"),
    "auth.login_failed": N_("Failed log-in"),
    "auth.logout": N_("Logged out"),
    "case.take": N_("Took a case"),
    "case.reassign": N_("Reassigned a case"),
    "case.resolve": N_("Resolved a case"),
    "case.outcome": N_("Recorded a case's outcome"),
    "case.reopen": N_("Reopened a case"),
    "case.note": N_("Added a note to a case"),
    "case.reply": N_("Replied to a customer"),
    "export.responses": N_("Exported the responses"),
    "survey.create": N_("Created a survey"),
    "survey.edit": N_("Edited a survey"),
    "user.create": N_("Created a user"),
    "user.role": N_("Changed a user's role"),
    "user.password": N_("Set a user's password"),
    "user.disable": N_("Disabled a user"),
    "user.enable": N_("Enabled a user"),
    "apikey.create": N_("Created an API key"),
    "apikey.revoke": N_("Revoked an API key"),
    "touchpoint.create": N_("Created a touchpoint"),
    "touchpoint.rotate": N_("Gave a touchpoint a new code"),
    "touchpoint.disable": N_("Disabled a touchpoint"),
    "contact.erase": N_("Erased a customer's data"),
    "contact.export": N_("Exported a customer's data"),
    "retention.run": N_("Applied the retention limits"),
    "shop.add": N_("Connected a shop"),
    "shop.remove": N_("Removed a shop"),
    "webhook.create": N_("Created a webhook"),
    "webhook.remove": N_("Removed a webhook"),
    "webhook.rotate": N_("Rotated a webhook's secret"),
    "webhook.enable": N_("Enabled a webhook"),
    "webhook.disable": N_("Disabled a webhook"),
    "webhook.replay": N_("Replayed webhook deliveries"),
    "delighted.unsubscribe": N_("Unsubscribed a person (Delighted API)"),
    "delighted.survey_requests.cancel": N_("Cancelled pending surveys (Delighted API)"),
    "delighted.autopilot.add": N_("Added a person to the autopilot (Delighted API)"),
    "delighted.autopilot.remove": N_("Removed a person from the autopilot (Delighted API)"),
    "delighted.response.update": N_("Updated a response (Delighted API)"),
}


def _day(name: str) -> date | None:
    """A `YYYY-MM-DD` filter; ValueError names the field when it is not a day."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValueError(name) from None


def _page_number() -> int:
    raw = request.args.get("page", "1")
    return min(int(raw), MAX_PAGE) if raw.isdigit() and int(raw) > 0 else 1


@bp.get("/audit")
@roles_required(StaffRole.OWNER)
def audit() -> Any:
    shown = {k: request.args.get(k, "").strip() for k in FILTERS}
    number = _page_number()
    error = None
    try:
        f = AuditFilter(
            shown["actor"] or None,
            shown["action"] or None,
            shown["target"] or None,
            _day("since"),
            _day("until"),
        )
    except ValueError as exc:
        error = {"field": str(exc), "text": _("Write the day as YYYY-MM-DD.")}
        f = AuditFilter()
    rows: list[dict[str, Any]] = []
    more = False
    if error is None:
        with runtime().db.session() as s:
            found = events(s, f, PAGE, (number - 1) * PAGE)
            more = found.more
            rows = [
                {
                    "at": f"{e.at.astimezone(UTC):%Y-%m-%d %H:%M:%S}",
                    "actor": e.actor,
                    "action": e.action,
                    "label": _(ACTIONS[e.action]) if e.action in ACTIONS else e.action,
                    "target": e.target,
                    "source": e.source,
                    "detail": ", ".join(f"{k}: {_value(v)}" for k, v in sorted(e.detail.items())),
                }
                for e in found.events
            ]
    kept = {k: v for k, v in shown.items() if v}
    return page(
        "dashboard/audit.html",
        422 if error else 200,
        rows=rows,
        shown=shown,
        error=error,
        number=number,
        more=more,
        actions=sorted(ACTIONS.items(), key=lambda kv: kv[0]),
        qs=lambda **kw: "?" + urlencode({**kept, **kw}),
    )


def _value(v: Any) -> str:
    if isinstance(v, list):
        return " ".join(str(x) for x in v) or "—"
    if isinstance(v, dict):
        return " ".join(f"{k}={x}" for k, x in sorted(v.items())) or "—"
    return "—" if v is None else str(v)

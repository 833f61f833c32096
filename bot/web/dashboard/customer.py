"""`/dashboard/customers/<id>`: one customer across channels — masked addresses with opt-outs,
language and time zone, every survey sent and answered, and the customer's cases; for owners,
the erasure of the customer's data (after typing a word to confirm it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import abort, flash, redirect, request, session, url_for

from bot.inbound.spool import after_erasure
from bot.insights import customer as insights
from bot.privacy.erasure import NotFound, addresses_of, erase_contact
from bot.staff.cards import mask
from bot.storage.db import MAX_ID
from bot.storage.models import StaffRole
from bot.web.context import runtime
from bot.web.dashboard.cases_list import link
from bot.web.dashboard.core import bp, check_csrf, login_required, page, roles_required
from bot.web.dashboard.i18n import N_, _, label

# An invitation's state, as staff read it.
STATES = {
    "scheduled": N_("Scheduled"),
    "sending": N_("Sending"),
    "unknown": N_("Maybe sent"),
    "asked": N_("Asked"),
    "awaiting_reason": N_("Waiting for the reason"),
    "completed": N_("Answered"),
    "unanswered": N_("No usable answer"),
    "expired": N_("Expired"),
    "opted_out": N_("Opted out"),
    "skipped": N_("Skipped"),
    "failed": N_("Failed"),
}


# How consent reached npsbot (`Consent.method`), as staff read it.
METHODS = {
    "api": N_("API"),
    "csv": N_("CSV import"),
    "touchpoint": N_("touchpoint code"),
    "start": N_("Telegram /start"),
    "keyword": N_("keyword"),
    "business": N_("the business's own opt-in"),
    "provider": N_("reported by the provider"),
}


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "—"


@bp.get("/customers/<int:contact_id>")
@login_required
def customer(contact_id: int) -> Any:
    found = None
    if contact_id <= MAX_ID:  # a larger number names no row (and overflows BIGINT)
        with runtime().db.session() as s:
            found = insights.customer(s, contact_id)
    if found is None:
        return page("dashboard/customer.html", 404, c=None, contact_id=contact_id, when=when)
    for ch in found["channels"]:
        ch["masked"] = mask(ch["address"], ch["channel"])
    return page(
        "dashboard/customer.html",
        c=found,
        contact_id=contact_id,
        case_url=lambda cid: link("dashboard.case", case_id=cid),
        state=lambda key: label(STATES, key),
        method=lambda key: label(METHODS, key),
        when=when,
    )


@bp.post("/customers/<int:contact_id>/erase")
@roles_required(StaffRole.OWNER)
def erase_customer(contact_id: int) -> Any:
    """Erase the customer's data (docs/privacy.md); the confirmation is the word typed."""
    check_csrf()
    if request.form.get("confirm", "").strip().casefold() != _("ERASE").casefold():
        abort(400, description=_("Type %(word)s to confirm the erasure.", word=_("ERASE")))
    rt = runtime()
    contact_id = contact_id if contact_id <= MAX_ID else 0  # a larger number names no row
    try:
        with rt.db.session_for_update() as s:
            addresses = addresses_of(s, contact_id)
            done = erase_contact(
                s,
                contact_id,
                at=rt.clock(),
                actor=f"dashboard:{session.get('user')}",
                source=request.remote_addr,
            )
    except NotFound:
        abort(404)
    after_erasure(rt, addresses)
    flash(
        _(
            "The customer's data is erased: %(scores)s score(s) kept without a name, "
            "%(cases)s case(s) removed.",
            scores=done.responses_kept,
            cases=done.cases_removed,
        )
    )
    return redirect(url_for("dashboard.cases"))

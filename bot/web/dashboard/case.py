"""`/dashboard/cases/<id>`: one case — the customer, their answer, the purchase, the whole
conversation as a timeline — and acting on it: take, reassign, resolve with an outcome,
reopen, a note, a reply to the customer. Every action goes through the staff chat's transition
table (`bot.staff.desk.act`) and its reply path (`bot.staff.reply`): the same case events, and
the Telegram card edited by the outbox after the commit."""

from __future__ import annotations

from typing import Any

from flask import redirect, request, url_for

from bot.events import OutboxQueued
from bot.staff import cases
from bot.staff.desk import act, assignees
from bot.staff.reply import Refused, reply_to_customer
from bot.staff.timeline import load
from bot.web.context import runtime
from bot.web.dashboard import i18n
from bot.web.dashboard.core import actor, app_of, bp, check_csrf, login_required, page, role
from bot.web.dashboard.i18n import N_, _

ACTIONS = (*cases.ACTIONS, "reply")
TEXT_MAX = 2000  # characters of a reply from the dashboard (a WhatsApp message holds 4,096)

# The timeline's labels: a message by its kind, an event by its kind.
MESSAGE_LABELS = {
    "question": N_("Survey question"),
    "reminder": N_("Reminder"),
    "reply": N_("Survey reply"),
    "staff_reply": N_("Reply from staff"),
    "staff_template": N_("Follow-up template"),
    "promoter_link": N_("Review link"),
}
EVENT_LABELS = {
    "opened": N_("Case opened"),
    "queued": N_("Staff alert queued"),
    "alerted": N_("Staff alerted"),
    "escalated": N_("Escalated"),
    "taken": N_("Taken"),
    "reassigned": N_("Reassigned"),
    "note": N_("Internal note"),
    "refused": N_("Reply not sent"),
    "resolved": N_("Resolved"),
    "outcome": N_("Outcome recorded"),
    "reopened": N_("Reopened"),
}
DELIVERY = {
    "queued": N_("queued"),
    "sending": N_("sending"),
    "sent": N_("sent"),
    "delivered": N_("delivered"),
    "read": N_("read"),
    "failed": N_("failed"),
    "undelivered": N_("undelivered"),
    "unknown": N_("unknown"),
}
REFUSALS = {
    "resolved": N_("Not sent: the case is resolved. Reopen it first."),
    "not_text": N_("Write the reply first."),
    "not_reachable": N_("Not sent: the customer has no %(channel)s address."),
    "opted_out": N_("Not sent: the customer opted out of %(channel)s."),
    "outside_window": N_(
        "Not sent: %(channel)s only allows replies within %(window)s of the customer's last "
        "message (theirs was %(since)s ago), and this survey has no approved follow-up template. "
        "Call them, or wait for them to write again."
    ),
    "outside_window_none": N_(
        "Not sent: %(channel)s only allows replies within %(window)s of the customer's last "
        "message, they have not written yet, and this survey has no approved follow-up "
        "template. Call them, or wait for them to write."
    ),
}


def _sentiment(value: float | None) -> str:
    if value is None:
        return "—"
    if value <= -0.2:
        return _("Negative")
    return _("Positive") if value >= 0.2 else _("Neutral")


def _allowed(status: str) -> set[str]:
    """The actions this user may take on a case in `status` (none for viewers)."""
    out = {a for a in cases.ACTIONS if cases.may(role(), a) and cases.transition(status, a)}
    if role() in cases.STAFF and status != "resolved":
        out.add("reply")
    return out


@bp.get("/cases/<int:case_id>")
@login_required
def case(case_id: int) -> Any:
    return _show(case_id)


def _show(case_id: int, status: int = 200, error: str | None = None, **form: str) -> Any:
    rt = runtime()
    now = rt.clock()
    with rt.db.session() as s:
        found = load(s, case_id, now)
        people = assignees(s) if found is not None and role() in cases.STAFF else []
        if found is None:
            return page("dashboard/case.html", 404, c=None, case_id=case_id)
        view = found.view
        ctx = dict(
            c=found,
            case=view.case,
            r=view.response,
            inv=view.invitation,
            contact=view.contact,
            survey_name=view.survey.name,
        )
        allowed = _allowed(view.case.status)
        people = [p for p in people if p.id != view.case.assignee_id]
    customers = "dashboard.customer" in app_of().view_functions
    return page(
        "dashboard/case.html",
        status,
        case_id=case_id,
        error=error,
        form=form,
        sent=request.args.get("sent"),
        allowed=allowed,
        people=people,
        outcomes=list(cases.OUTCOMES),
        needs_note=sorted(cases.NEEDS_NOTE),
        note_max=cases.NOTE_MAX,
        text_max=TEXT_MAX,
        sentiment=_sentiment(view.response.sentiment),
        language_name=i18n.NAMES.get(view.invitation.language, view.invitation.language),
        customer_url=url_for("dashboard.customer", contact_id=view.contact.id)
        if customers
        else None,
        message_label=lambda k: (
            i18n.label(MESSAGE_LABELS, k) if k in MESSAGE_LABELS else _("Message")
        ),
        event_label=lambda k: i18n.label(EVENT_LABELS, k),
        delivery=lambda k: i18n.label(DELIVERY, k),
        **ctx,
    )


@bp.post("/cases/<int:case_id>/<action>")
@login_required
def case_action(case_id: int, action: str) -> Any:
    """Any action on a case, from its page or the overview's open cases (`back`)."""
    check_csrf()
    if action not in ACTIONS:
        return _show(case_id, 404, _("No such action."))
    if role() not in cases.STAFF:
        return _show(case_id, 403, _("Viewers cannot act on cases."))
    back = request.form.get("back", "")
    text = request.form.get("text", "").strip()
    note = request.form.get("note", "").strip()
    outcome = request.form.get("outcome") or None
    if action == "reply":
        return _reply(case_id, text)
    problem = _problem(action, outcome, note)
    if problem:
        return _show(case_id, 400, problem, note=note, outcome=outcome or "")
    rt = runtime()
    to = None
    if action == "reassign":
        with rt.db.session() as s:
            to = next((p for p in assignees(s) if p.id == request.form.get("to")), None)
        if to is None:
            return _show(case_id, 400, _("Choose who takes the case."))
    try:
        act(rt, case_id, action, actor(), outcome, note or None, to)
    except LookupError:
        return _show(case_id, 404)
    except cases.NotAllowed:
        if back.startswith("/dashboard"):
            return redirect(back)  # taken or resolved meanwhile: the page shows by whom
        return _show(case_id, 409, _("The case changed meanwhile: see its state and try again."))
    if back.startswith("/dashboard"):
        return redirect(back)
    return redirect(url_for("dashboard.case", case_id=case_id) + "#timeline")


def _problem(action: str, outcome: str | None, note: str) -> str | None:
    """What the form lacks, naming the field (None: nothing)."""
    if action in ("resolve", "outcome") and outcome not in cases.OUTCOMES:
        return _("Choose an outcome.")
    if outcome in cases.NEEDS_NOTE and not note:
        return _(
            "The outcome “%(outcome)s” needs a note: say what came of it.",
            outcome=_(i18n.OUTCOMES["other"]),
        )
    if action == "note" and not note:
        return _("Write the note first.")
    if len(note) > cases.NOTE_MAX:
        return _("The note is too long: at most %(n)s characters.", n=cases.NOTE_MAX)
    return None


def _reply(case_id: int, text: str) -> Any:
    if len(text) > TEXT_MAX:
        return _show(
            case_id,
            400,
            _("The reply is too long: at most %(n)s characters.", n=TEXT_MAX),
            text=text,
        )
    rt = runtime()
    with rt.db.session_for_update() as s:
        try:
            sent = reply_to_customer(s, rt.settings, case_id, actor(), text, rt.clock())
        except LookupError:
            sent = None
        how = None if sent is None or isinstance(sent, Refused) else sent.kind
    if sent is None:
        return _show(case_id, 404)
    if isinstance(sent, Refused):
        code = sent.code
        if code == "outside_window" and not sent.params.get("since"):
            code = "outside_window_none"
        why = _(REFUSALS[code], **sent.params) if code in REFUSALS else sent.reason
        return _show(case_id, 422 if code != "resolved" else 409, why, text=text)
    rt.bus.publish(OutboxQueued())  # after the commit: the outbox sends the reply and the card
    done = "template" if how == "staff_template" else "reply"
    return redirect(url_for("dashboard.case", case_id=case_id, sent=done) + "#timeline")

"""`/dashboard/webhooks` (owners): the business's endpoints for npsbot's events, added, disabled,
enabled and removed here as by the API and `npsbot webhooks` (the same
`bot.integrations.webhooks` functions, audited as "dashboard:<user>"), each one's delivery log,
and replay of one delivery or of the last hours."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import abort, flash, redirect, request, session, url_for

from bot.integrations import webhooks as hooks
from bot.storage.db import MAX_ID
from bot.storage.hooks import EVENT_TYPES
from bot.storage.models import StaffRole
from bot.web.context import runtime
from bot.web.dashboard.core import bp, check_csrf, page, roles_required
from bot.web.dashboard.i18n import N_, _

FIELDS = {
    "url": N_("The URL takes http:// or https:// and a host, such as https://example.com/npsbot."),
    "events": N_("Choose at least one event."),
    "description": N_("The description takes at most 200 characters."),
}
REPLAY_HOURS = (1, 6, 24, 72)


def _actor() -> hooks.Actor:
    return hooks.Actor(f"dashboard:{session.get('user', 'staff')}", request.remote_addr or "?")


def _list(status: int = 200, **context: Any) -> Any:
    rt = runtime()
    with rt.db.session() as s:
        items = [hooks.subscription_json(w, rt.clock()) for w in hooks.listing(s)]
    context.setdefault("form", {})
    return page("dashboard/webhooks.html", status, items=items, events=EVENT_TYPES, **context)


@bp.get("/webhooks")
@roles_required(StaffRole.OWNER)
def webhooks() -> Any:
    return _list()


@bp.post("/webhooks")
@roles_required(StaffRole.OWNER)
def webhook_create() -> Any:
    """A new endpoint; its secret is shown on this page once (never flashed into the cookie)."""
    check_csrf()
    form = {"url": request.form.get("url", ""), "description": request.form.get("description")}
    chosen = request.form.getlist("events")
    rt = runtime()
    try:
        with rt.db.session_for_update() as s:
            sub, secret = hooks.create(
                s,
                url=form["url"],
                events=chosen,
                description=(form["description"] or "").strip() or None,
                now=rt.clock(),
                actor=_actor(),
            )
            made = sub.id
    except hooks.Refused as exc:
        field = str(exc).split(":", 1)[0]
        error = {"field": field, "text": _(FIELDS.get(field, FIELDS["url"]))}
        return _list(422, error=error, form=form | {"events": chosen})
    return _list(201, secret=secret, made=made)


@bp.post("/webhooks/<int:webhook_id>/<any(disable, enable, remove):action>")
@roles_required(StaffRole.OWNER)
def webhook_change(webhook_id: int, action: str) -> Any:
    check_csrf()
    rt = runtime()
    try:
        with rt.db.session_for_update() as s:
            if action == "remove":
                hooks.remove(s, webhook_id, now=rt.clock(), actor=_actor())
            else:
                on = action == "enable"
                hooks.set_enabled(s, webhook_id, on, now=rt.clock(), actor=_actor())
    except LookupError:
        abort(404)
    said = {
        "disable": _("Webhook %(id)s is disabled: its events wait.", id=webhook_id),
        "enable": _("Webhook %(id)s is enabled: waiting events go out in order.", id=webhook_id),
        "remove": _("Webhook %(id)s is removed.", id=webhook_id),
    }
    flash(said[action])
    rt.wake.set()
    return redirect(url_for("dashboard.webhooks"))


@bp.get("/webhooks/<int:webhook_id>")
@roles_required(StaffRole.OWNER)
def webhook_log(webhook_id: int) -> Any:
    """The endpoint's last 50 deliveries: state, attempts, status code, latency, error."""
    rt = runtime()
    if webhook_id > MAX_ID:
        abort(404)
    try:
        with rt.db.session() as s:
            sub = hooks.subscription_json(hooks.get(s, webhook_id), rt.clock())
            rows = [hooks.delivery_json(d, e) for d, e in hooks.deliveries(s, webhook_id)]
    except LookupError:
        abort(404)
    return page("dashboard/webhook.html", hook=sub, rows=rows, hours=REPLAY_HOURS)


@bp.post("/webhooks/<int:webhook_id>/replay")
@roles_required(StaffRole.OWNER)
def webhook_replay(webhook_id: int) -> Any:
    """One delivery again (`delivery`), or those of the last `hours`."""
    check_csrf()
    rt = runtime()
    one, hours = request.form.get("delivery", ""), request.form.get("hours", "")
    now = rt.clock()
    try:
        with rt.db.session_for_update() as s:
            if one.isdigit() and int(one) <= MAX_ID:
                n = hooks.replay(s, webhook_id, now=now, actor=_actor(), delivery_id=int(one))
            elif hours.isdigit() and int(hours) in REPLAY_HOURS:
                since = now - timedelta(hours=int(hours))
                n = hooks.replay(s, webhook_id, now=now, actor=_actor(), since=since)
            else:
                abort(400)
    except LookupError:
        abort(404)
    rt.wake.set()
    flash(_("%(n)s deliveries will be sent again, with the same event ids.", n=n))
    return redirect(url_for("dashboard.webhook_log", webhook_id=webhook_id))

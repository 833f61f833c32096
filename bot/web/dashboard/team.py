"""`/dashboard/team` (owners only): the dashboard's users and the business API's keys.

Every change goes through `bot.accounts`, the functions `npsbot user` and `npsbot apikey` call:
the last-owner rule, the password length and the key names live there once; each change is an
audit row (`user.<action>`, `apikey.<action>`) in its transaction. A refused change
shows the page again with the form's field named. A generated password or a new key is shown
once, in the answer to the form that made it: never kept in the cookie, never shown again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import abort, flash, make_response, redirect, request, session, url_for

from bot.accounts import apikeys, users
from bot.accounts.errors import AccountError, Code
from bot.storage.audit import record
from bot.storage.models import StaffRole
from bot.web.context import runtime
from bot.web.dashboard import i18n
from bot.web.dashboard.core import bp, by, check_csrf, page, roles_required
from bot.web.dashboard.i18n import N_, _

# Each refusal of bot.accounts: the form field it names, and the sentence (an English msgid).
ERRORS: dict[Code, tuple[str, str]] = {
    "username": ("username", N_("The name takes 2 to 64 letters, digits or . _ @ + -")),
    "username_taken": ("username", N_("A user named %(name)s exists already.")),
    "role": ("role", N_("Choose one of the roles.")),
    "password": ("password", N_("The password needs at least %(min)s characters.")),
    "no_user": ("username", N_("There is no user named %(name)s.")),
    "last_owner": ("role", N_("%(name)s is the only owner: make someone else owner first.")),
    "locked": ("", N_("Too many failed log-ins from here: try again in %(seconds)s seconds.")),
    "key_name": ("name", N_("The key's name takes 1 to %(max)s characters.")),
    "key_taken": ("name", N_("A key named %(name)s exists already: revoke it first.")),
    "no_key": ("name", N_("There is no active key named %(name)s.")),
}
STATUS = {"no_user": 404, "no_key": 404, "username_taken": 409, "key_taken": 409, "last_owner": 409}
ROLE_HELP = {
    StaffRole.OWNER: N_("everything, including users, API keys and surveys"),
    StaffRole.AGENT: N_("cases and replies to customers"),
    StaffRole.VIEWER: N_("reads everything, changes nothing"),
}
USER_ACTIONS = ("create", "role", "disable", "enable", "password")


def _when(at: datetime | None) -> str:
    return f"{at:%Y-%m-%d %H:%M}" if at is not None else ""


def _page(status: int = 200, **context: Any) -> Any:
    """The team page; never cached (it may hold a password or a key shown once)."""
    with runtime().db.session() as s:
        people = [
            {
                "username": u.username,
                "role": u.role,
                "language": i18n.NAMES.get(u.language or "", "—"),
                "last_login": _when(u.last_login_at),
                "disabled": _when(u.disabled_at),
                "me": u.id == session.get("uid"),
            }
            for u in users.list_users(s)
        ]
        keys = [
            {
                "name": apikeys.shown_name(k),
                "stored": k.name,
                "prefix": k.prefix,
                "created": _when(k.created_at),
                "last_used": _when(k.last_used_at),
                "revoked": _when(k.revoked_at),
            }
            for k in apikeys.list_keys(s)
        ]
    context.setdefault("form", {})
    html, code = page(
        "dashboard/team.html",
        status,
        people=people,
        keys=keys,
        roles=list(StaffRole),
        role_help=ROLE_HELP,
        min_password=users.MIN_PASSWORD,
        **context,
    )
    response = make_response(html, code)
    response.headers["Cache-Control"] = "no-store"
    return response


def _refused(exc: AccountError, form: str) -> Any:
    """The page again, the refusal in the user's language next to the form that was sent."""
    field, text = ERRORS[exc.code]
    kept = {k: v for k, v in request.form.items() if k not in ("csrf", "password")}
    error = {"form": form, "field": field, "text": _(text, **exc.params)}
    return _page(STATUS.get(exc.code, 422), error=error, form=kept)


@bp.get("/team")
@roles_required(StaffRole.OWNER)
def team() -> Any:
    return _page()


@bp.get("/team/<any(user, key):kind>/<action>")
@roles_required(StaffRole.OWNER)
def team_form(kind: str, action: str) -> Any:
    """A form's address opened (the language menu's way back, a reload): the team page."""
    return redirect(url_for("dashboard.team"))


@bp.post("/team/user/<action>")
@roles_required(StaffRole.OWNER)
def team_user(action: str) -> Any:
    """Create a user, change a role, disable or enable, or set a new password."""
    check_csrf()
    if action not in USER_ACTIONS:
        abort(404)
    name = request.form.get("username", "").strip()
    role = request.form.get("role", "")
    typed = request.form.get("password", "")
    password = typed or users.new_password()  # none typed: a generated one, shown once
    rt, who = runtime(), by()
    now = rt.clock()
    try:
        with rt.db.session_for_update() as s:
            if action == "create":
                user = users.create_user(s, name, password, now, role)
            elif action == "role":
                user = users.set_role(s, name, role)
            elif action in ("disable", "enable"):
                user = users.set_disabled(s, name, action == "disable", now)
            else:
                user = users.set_password(s, name, password)
                if user.id == session.get("uid"):
                    session["ver"] = user.session_version  # other sessions end, not this one
            detail = {"role": user.role} if action in ("create", "role") else {}
            record(
                s,
                at=now,
                actor=who.actor,
                action=f"user.{action}",
                target=f"user:{user.username}",
                source=who.source,
                **detail,
            )
    except AccountError as exc:
        return _refused(exc, "user-create" if action == "create" else "users")
    label = i18n.label(i18n.ROLES, role)
    if action in ("create", "password") and not typed:
        title = _("The password for %(name)s", name=name)
        return _page(secret={"title": title, "value": password})
    flash(
        {
            "create": _("%(name)s can log in now, as %(role)s.", name=name, role=label),
            "role": _(
                "%(name)s is now %(role)s: their sessions have ended.", name=name, role=label
            ),
            "disable": _("%(name)s is disabled: their sessions have ended.", name=name),
            "enable": _("%(name)s may log in again.", name=name),
            "password": _("%(name)s has a new password: their sessions have ended.", name=name),
        }[action]
    )
    return redirect(url_for("dashboard.team"))


@bp.post("/team/key/<action>")
@roles_required(StaffRole.OWNER)
def team_key(action: str) -> Any:
    """Create a key (shown once, in this answer) or revoke one (after its confirmation step)."""
    check_csrf()
    if action not in ("create", "revoke"):
        abort(404)
    name = request.form.get("name", "").strip()
    if action == "revoke" and request.form.get("confirm") != "yes":
        abort(400, description=_("Confirm the revocation with its button."))
    rt, who = runtime(), by()
    try:
        with rt.db.session_for_update() as s:
            if action == "create":
                key = apikeys.create_key(s, name, rt.clock())
            else:
                apikeys.revoke_key(s, name, rt.clock())
            record(
                s,
                at=rt.clock(),
                actor=who.actor,
                action=f"apikey.{action}",
                target=f"apikey:{name}",
                source=who.source,
            )
    except AccountError as exc:
        return _refused(exc, "key-create" if action == "create" else "keys")
    if action == "create":
        return _page(secret={"title": _("The key %(name)s", name=name), "value": key})
    flash(_("The key %(name)s is revoked: it no longer works.", name=name))
    return redirect(url_for("dashboard.team"))

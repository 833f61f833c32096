"""Log-in, log-out and the language menu.

Log-in is rate-limited per client address and throttled per (name, client)
(`users.LoginThrottle`), both in process; the scrypt check holds no writer lock. Each log-in,
failed log-in (the name tried, never the password) and log-out is an audit row.
"""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, session, url_for

from bot.accounts import users
from bot.config import LANGUAGES
from bot.storage.audit import record
from bot.storage.models import StaffUser
from bot.web.context import runtime
from bot.web.dashboard import i18n
from bot.web.dashboard.core import app_of, bp, by, check_csrf, client, csrf_token, login_required

NAME_KEPT = 64  # characters of a failed log-in's name the audit keeps (USERNAME_RE's longest)


@bp.get("/login")
def login() -> Any:
    return _login_page(None, 200)


def _login_page(error: str | None, status: int, username: str = "") -> Any:
    page = render_template(
        "dashboard/login.html", csrf=csrf_token(), error=error, username=username
    )
    return page, status


@bp.post("/login")
def login_post() -> Any:
    check_csrf()
    username = request.form.get("username", "")
    password = request.form.get("password", "")
    address = client()
    extensions = app_of().extensions
    limiter: users.LoginLimiter = extensions["npsbot_login_limiter"]
    throttle: users.LoginThrottle = extensions["npsbot_login_throttle"]
    if not limiter.allow(address):
        return _login_page(i18n._("Too many log-in attempts from here: wait a few minutes."), 429)
    rt = runtime()
    now = rt.clock()
    try:
        throttle.check(username, address, now)  # the same for a name that does not exist
    except users.Locked as exc:
        return _login_page(_locked(exc), 429, username)
    with rt.db.session() as s:  # reads only: the scrypt check holds no writer lock
        user = users.authenticate(s, username, password, now)
        uid, role, lang = (user.id, user.role, user.language) if user else (None, None, None)
    tried = username.strip()
    if uid is None:
        throttle.failed(username, address, now)
        with rt.db.session_for_update() as s:
            record(
                s,
                at=now,
                actor="anonymous",
                action="auth.login_failed",
                target=f"user:{tried[:NAME_KEPT]}",
                source=address,
                username=tried[:NAME_KEPT],
            )
        return _login_page(i18n._("Wrong username or password."), 401, username)
    throttle.succeeded(username, address)
    chosen = session.get("lang")  # on the log-in page: the user's choice from now on
    chosen = chosen if chosen in LANGUAGES else None
    with rt.db.session_for_update() as s:
        version = users.record_login(s, uid, now, chosen)
        record(
            s,
            at=now,
            actor=f"dashboard:{tried}",
            action="auth.login",
            target=f"user:{tried}",
            source=address,
        )
    nxt = request.args.get("next", "")
    session.clear()
    session["uid"], session["role"], session["user"] = uid, role, tried
    session["ver"] = version
    if (chosen or lang) in LANGUAGES:
        session["lang"] = chosen or lang
    csrf_token()
    # Only local paths: never redirect off-site.
    ok = nxt.startswith("/dashboard") and not nxt.startswith("//")
    return redirect(nxt if ok else url_for("dashboard.index"))


def _locked(exc: users.Locked) -> str:
    return i18n._(
        "Too many failed log-ins from here: try again in %(seconds)s seconds.", seconds=exc.seconds
    )


@bp.post("/logout")
@login_required
def logout() -> Any:
    check_csrf()
    uid, version = session.get("uid"), session.get("ver")
    rt, who = runtime(), by()
    with rt.db.session_for_update() as s:
        user = s.get(StaffUser, uid)
        if user is not None and user.session_version == version:
            users.end_sessions(user)  # this cookie, and any copy of it, ends here
            target = f"user:{user.username}"
            record(
                s,
                at=rt.clock(),
                actor=who.actor,
                action="auth.logout",
                target=target,
                source=who.source,
            )
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    return redirect(url_for("dashboard.login"))


@bp.post("/language")
def language() -> Any:
    """Choose the dashboard's language; a logged-in user keeps it on every device."""
    check_csrf()
    lang = request.form.get("lang", "")
    if lang not in LANGUAGES:
        return _login_page(i18n._("No such language."), 400)
    session["lang"] = lang
    if isinstance(session.get("uid"), int):
        with runtime().db.session_for_update() as s:
            user = s.get(StaffUser, session["uid"])
            if user is not None:
                user.language = lang
    back = request.form.get("back", "")
    ok = back.startswith("/dashboard") and not back.startswith("//")
    return redirect(back if ok else url_for("dashboard.index"))

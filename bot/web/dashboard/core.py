"""What every dashboard page shares: the blueprint, sessions, CSRF, roles and the page frame.

Staff log in (`npsbot user create`); sessions are Flask's signed cookies (HttpOnly, SameSite=Lax,
Secure over https) carrying the user's session version: log-out, a new password or a new role
bump it, so every older cookie stops working. Every form carries a CSRF token bound to the
session. Behind `TRUSTED_PROXIES` proxies, werkzeug's ProxyFix takes the client address and
scheme from their `X-Forwarded-For`/`-Proto`. Roles: owners do everything, agents work cases,
viewers read (`bot.storage.models.StaffRole`).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sansio.blueprints import BlueprintSetupState
from werkzeug.middleware.proxy_fix import ProxyFix

from bot.accounts import users
from bot.config import LANGUAGES
from bot.staff.cases import Actor
from bot.storage.audit import By
from bot.storage.models import StaffRole
from bot.web.context import runtime
from bot.web.dashboard import i18n
from bot.web.dashboard.i18n import N_

bp = Blueprint(
    "dashboard",
    __name__,
    url_prefix="/dashboard",
    static_folder="../static",
    static_url_path="/static",
)
F = TypeVar("F", bound=Callable[..., Any])

# The menu: endpoint, label, the roles that see it. An endpoint no module registers is left out.
NAV: tuple[tuple[str, str, frozenset[StaffRole] | None], ...] = (
    ("dashboard.index", N_("Overview"), None),
    ("dashboard.cases", N_("Cases"), None),
    ("dashboard.surveys", N_("Surveys"), frozenset({StaffRole.OWNER})),
    ("dashboard.team", N_("Team"), frozenset({StaffRole.OWNER})),
    ("dashboard.touchpoints", N_("Touchpoints"), frozenset({StaffRole.OWNER})),
    ("dashboard.audit", N_("Audit"), frozenset({StaffRole.OWNER})),
    ("dashboard.webhooks", N_("Webhooks"), frozenset({StaffRole.OWNER})),
)


@bp.record_once
def _setup(state: BlueprintSetupState) -> None:
    app = state.app
    assert isinstance(app, Flask)  # the sansio type has no wsgi_app
    settings = app.extensions["npsbot"].settings
    # Set, not setdefault: Flask defines these keys (SameSite as None).
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    # Over plain http too when the public URL is https (a proxy ends TLS): app.py adds requests
    # seen as https through a trusted proxy.
    public = settings.public_base_url or ""
    app.config["SESSION_COOKIE_SECURE"] = public.lower().startswith("https://")
    if settings.trusted_proxies:
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]
    app.extensions["npsbot_login_limiter"] = users.LoginLimiter()
    app.extensions["npsbot_login_throttle"] = users.LoginThrottle()
    i18n.install(app)


@bp.before_request
def _language() -> None:
    """The page's language: the user's choice, else `?lang=`, the browser's, DEFAULT_LANGUAGE."""
    chosen = session.get("lang") or request.args.get("lang")
    if chosen in LANGUAGES:
        g.lang = chosen
    else:
        g.lang = i18n.browser_language(runtime().settings.default_language)


def app_of() -> Flask:
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    return app


def csrf_token() -> str:
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def check_csrf() -> None:
    sent = request.form.get("csrf", "")
    token = session.get("csrf")
    if not isinstance(token, str) or not hmac.compare_digest(sent, token):
        abort(
            400,
            description=i18n._("The form expired or did not come from this site: reload the page."),
        )


def role() -> StaffRole:
    """The logged-in user's role (a viewer when unknown: the least)."""
    try:
        return StaffRole(session.get("role", StaffRole.VIEWER))
    except ValueError:
        return StaffRole.VIEWER


def actor() -> Actor:
    """The logged-in user as the case workflow (and the audit) records them."""
    name, who = str(session.get("user", "staff")), by()
    return Actor(f"dashboard:{session['uid']}", name, role(), audit=who.actor, source=who.source)


def client() -> str:
    """The client's address (through `TRUSTED_PROXIES` proxies: ProxyFix, above)."""
    return request.remote_addr or "?"


def by() -> By:
    """The logged-in user and their address, as the audit trail names them."""
    return By(f"dashboard:{session.get('user', '?')}", client())


def login_required(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not isinstance(session.get("uid"), int):
            return redirect(url_for("dashboard.login", next=request.full_path))
        with runtime().db.session() as s:
            user = users.active_user(s, session["uid"])
            if user is None or session.get("ver") != user.session_version:
                session.clear()  # disabled, logged out, a new password or role since
                return redirect(url_for("dashboard.login"))
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def roles_required(*allowed: StaffRole) -> Callable[[F], F]:
    """Log-in, and one of `allowed` roles: anyone else gets a 403 that says which role it takes."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if role() not in allowed:
                names = ", ".join(i18n.label(i18n.ROLES, r) for r in allowed)
                abort(
                    403, description=i18n._("Only these roles may do this: %(roles)s.", roles=names)
                )
            return view(*args, **kwargs)

        return login_required(wrapper)  # type: ignore[return-value]

    return decorate


def nav() -> list[tuple[str, str, bool]]:
    """The menu for this user: (url, label, is the current page)."""
    views = app_of().view_functions
    out = []
    for endpoint, text, who in NAV:
        if endpoint in views and (who is None or role() in who):
            here = request.endpoint == endpoint
            out.append((url_for(endpoint), i18n._(text), here))
    return out


def page(template: str, status: int = 200, **context: Any) -> Any:
    """Render a dashboard page in the shared frame (`dashboard/layout.html`)."""
    html = render_template(
        template,
        user=session.get("user"),
        role=role(),
        readonly=role() == StaffRole.VIEWER,
        owner=role() == StaffRole.OWNER,
        csrf=csrf_token(),
        nav=nav(),
        back=request.full_path,
        **context,
    )
    return html, status

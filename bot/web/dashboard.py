"""`/dashboard`: the staff page — NPS now, trend, distribution, breakdowns, themes, comments, cases.

Staff log in (`npsbot user create`); sessions are Flask's signed cookies (HttpOnly, SameSite=Lax,
Secure over https) carrying the user's session version: log-out and a new password bump it, so
every older cookie stops working. Every form carries a CSRF token bound to the session. Log-in
is rate-limited per client address and throttled per (name, client) (`users.LoginThrottle`), both
in process. Behind `TRUSTED_PROXIES` proxies, werkzeug's ProxyFix takes the client address and
scheme from their `X-Forwarded-For`/`-Proto`. Read-only users see everything but cannot take or
resolve cases. Charts are inline SVG drawn here: no JavaScript, no CDN.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Sequence
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlencode

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sansio.blueprints import BlueprintSetupState
from markupsafe import Markup, escape
from werkzeug.middleware.proxy_fix import ProxyFix

from bot.accounts import users
from bot.insights import filters, lists, reports
from bot.staff import cases
from bot.staff.desk import act
from bot.storage.models import StaffRole, StaffUser
from bot.web.context import runtime
from scoring import DEFAULT_TAXONOMY

bp = Blueprint(
    "dashboard",
    __name__,
    url_prefix="/dashboard",
    static_folder="static",
    static_url_path="/static",
)
F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_DAYS = 90
# The page's language: theme labels come from scoring's taxonomy in it, as on the staff cards.
LANGUAGE = "en"


def theme_label(key: str) -> str:
    """A theme's label; a key the taxonomy does not have (stored before a change) as it is."""
    try:
        return DEFAULT_TAXONOMY.label(key, LANGUAGE)
    except KeyError:
        return key


COLORS = {"detractor": "#d64545", "passive": "#e0a800", "promoter": "#2f9e44"}


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


def csrf_token() -> str:
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def _check_csrf() -> None:
    sent = request.form.get("csrf", "")
    token = session.get("csrf")
    if not isinstance(token, str) or not hmac.compare_digest(sent, token):
        abort(400, description="the form expired or did not come from this site: reload the page")


def login_required(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not isinstance(session.get("uid"), int):
            return redirect(url_for("dashboard.login", next=request.full_path))
        with runtime().db.session() as s:
            user = users.active_user(s, session["uid"])
            if user is None or session.get("ver") != user.session_version:
                session.clear()  # disabled, logged out or a new password since
                return redirect(url_for("dashboard.login"))
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@bp.get("/login")
def login() -> Any:
    return render_template("dashboard_login.html", csrf=csrf_token(), error=None, username="")


@bp.post("/login")
def login_post() -> Any:
    _check_csrf()
    username = request.form.get("username", "")
    password = request.form.get("password", "")
    client = request.remote_addr or "?"
    extensions = runtime_app().extensions
    limiter: users.LoginLimiter = extensions["npsbot_login_limiter"]
    throttle: users.LoginThrottle = extensions["npsbot_login_throttle"]
    if not limiter.allow(client):
        return _login_error("too many log-in attempts from here: wait a few minutes", 429)
    rt = runtime()
    now = rt.clock()
    try:
        throttle.check(username, client, now)  # the same for a name that does not exist
    except users.Locked as exc:
        return _login_error(str(exc), 429, username)
    with rt.db.session() as s:  # reads only: the scrypt check holds no writer lock
        user = users.authenticate(s, username, password, now)
        uid = user.id if user else None
        role = user.role if user else None
    if uid is None:
        throttle.failed(username, client, now)
        return _login_error("wrong username or password", 401, username)
    throttle.succeeded(username, client)
    with rt.db.session_for_update() as s:
        version = users.record_login(s, uid, now)
    nxt = request.args.get("next", "")
    session.clear()
    session["uid"], session["role"], session["user"] = uid, role, username.strip()
    session["ver"] = version
    csrf_token()
    # Only local paths: never redirect off-site.
    ok = nxt.startswith("/dashboard") and not nxt.startswith("//")
    return redirect(nxt if ok else url_for("dashboard.index"))


def runtime_app() -> Flask:
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    return app


def _login_error(message: str, status: int, username: str = "") -> Any:
    page = render_template(
        "dashboard_login.html", csrf=csrf_token(), error=message, username=username
    )
    return page, status


@bp.post("/logout")
def logout() -> Any:
    _check_csrf()
    uid, version = session.get("uid"), session.get("ver")
    if isinstance(uid, int):
        with runtime().db.session_for_update() as s:
            user = s.get(StaffUser, uid)
            if user is not None and user.session_version == version:
                users.end_sessions(user)  # this cookie, and any copy of it, ends here
    session.clear()
    return redirect(url_for("dashboard.login"))


@bp.post("/cases/<int:case_id>/<action>")
@login_required
def case_action(case_id: int, action: str) -> Any:
    """Take or resolve (with an outcome) through the case workflow the staff chat uses."""
    _check_csrf()
    if action not in ("take", "resolve"):
        abort(404)
    role = StaffRole(session.get("role", StaffRole.READONLY))
    if not cases.may(role, action):
        abort(403, description="read-only users cannot act on cases")
    outcome = request.form.get("outcome") if action == "resolve" else None
    if action == "resolve" and outcome not in cases.OUTCOMES:
        abort(400, description="choose an outcome: " + ", ".join(cases.OUTCOMES.values()))
    actor = cases.Actor(f"dashboard:{session['uid']}", str(session.get("user", "staff")), role)
    try:
        act(runtime(), case_id, action, actor, outcome)
    except LookupError:
        abort(404, description=f"no case {case_id}")
    except cases.NotAllowed:
        pass  # taken or resolved meanwhile: the page shows by whom
    back = request.form.get("back", "")
    return redirect(back if back.startswith("/dashboard") else url_for("dashboard.index"))


def benchmark() -> tuple[str, float] | None:
    """The industry benchmark line: `NPS_BENCHMARK="Retail=45"` (or just a number)."""
    raw = runtime().settings.nps_benchmark
    if not raw:
        return None
    label, _, value = str(raw).rpartition("=")
    try:
        return (label.strip() or "Industry benchmark", float(value))
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
            surveys = reports.survey_keys(s)
    except filters.FilterError as exc:
        return render_template("dashboard_error.html", error=exc), 422
    # Filter menu: configured channels and any seen here (no DISTINCT over every response).
    seen = {g["value"] for g in by_channel} | (set(rate["by_channel"]) - {"none"})
    channels = sorted(set(rt.channels) | set(f.channels) | seen)
    bench = benchmark()
    query = {k: v[0] for k, v in args.items() if v}
    return render_template(
        "dashboard.html",
        user=session.get("user"),
        readonly=session.get("role") == StaffRole.READONLY,
        csrf=csrf_token(),
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
        trend_svg=trend_chart(trend["points"], bench),
        dist_svg=distribution_chart(dist),
        by_channel=by_channel,
        by_survey=by_survey,
        by_store=[g for g in by_store if g["value"] != "(none)"],
        theme=theme_label,
        top_detractor=reports.top_themes(themes, "detractor"),
        top_promoter=reports.top_themes(themes, "promoter"),
        comments=comments,
        comments_cat=comments_cat,
        cases=open_cases,
        outcomes=cases.OUTCOMES,
        benchmark=bench,
        back=request.full_path,
    )


# --- SVG charts ---------------------------------------------------------------------------------


def trend_chart(
    points: Sequence[dict[str, Any]], bench: tuple[str, float] | None, w: int = 640, h: int = 220
) -> Markup:
    """NPS per period as a line, its 95 % interval as a band, and the benchmark as a dashed line."""
    pad_l, pad_r, pad_t, pad_b = 36, 12, 12, 28
    known = [p for p in points if p["nps"] is not None]
    if not known:
        return Markup('<p class="muted">No answers in this period yet.</p>')
    lows = [p["low"] for p in known] + ([bench[1]] if bench else [])
    highs = [p["high"] for p in known] + ([bench[1]] if bench else [])
    lo: float = max(-100.0, float(min(lows) // 10) * 10 - 10)
    hi: float = min(100.0, float(max(highs) // 10) * 10 + 10)
    n = len(points)

    def x(i: int) -> float:
        return pad_l + (w - pad_l - pad_r) * (i / (n - 1) if n > 1 else 0.5)

    def y(v: float) -> float:
        return pad_t + (h - pad_t - pad_b) * (hi - v) / (hi - lo)

    parts = [
        f'<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="NPS trend">',
    ]
    step = 20 if hi - lo > 80 else 10
    tick = int(lo)
    while tick <= hi:
        parts.append(
            f'<line x1="{pad_l}" x2="{w - pad_r}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
            f'class="grid"/><text x="{pad_l - 4}" y="{y(tick) + 4:.1f}" class="axis" '
            f'text-anchor="end">{tick}</text>'
        )
        tick += step
    # The band, drawn per run of consecutive periods with answers.
    runs: list[list[int]] = [[]]
    for i, p in enumerate(points):
        if p["nps"] is None:
            runs.append([])
        else:
            runs[-1].append(i)
    for run in runs:
        if not run:
            continue
        upper = " ".join(f"{x(i):.1f},{y(points[i]['high']):.1f}" for i in run)
        lower = " ".join(f"{x(i):.1f},{y(points[i]['low']):.1f}" for i in reversed(run))
        if len(run) == 1:
            i = run[0]
            parts.append(
                f'<line x1="{x(i):.1f}" x2="{x(i):.1f}" y1="{y(points[i]["high"]):.1f}" '
                f'y2="{y(points[i]["low"]):.1f}" class="bandline"/>'
            )
        else:
            parts.append(f'<polygon points="{upper} {lower}" class="band"/>')
        line = " ".join(f"{x(i):.1f},{y(points[i]['nps']):.1f}" for i in run)
        parts.append(f'<polyline points="{line}" class="line"/>')
    for i in (i for run in runs for i in run):
        p = points[i]
        title = escape(f"{p['period']}: NPS {p['nps']} ± {p['margin_of_error']} ({p['responses']})")
        parts.append(
            f'<circle cx="{x(i):.1f}" cy="{y(p["nps"]):.1f}" r="3" class="dot">'
            f"<title>{title}</title></circle>"
        )
    if bench:
        parts.append(
            f'<line x1="{pad_l}" x2="{w - pad_r}" y1="{y(bench[1]):.1f}" y2="{y(bench[1]):.1f}" '
            f'class="bench"/><text x="{w - pad_r}" y="{y(bench[1]) - 4:.1f}" class="axis" '
            f'text-anchor="end">{escape(bench[0])} {bench[1]:g}</text>'
        )
    labels = {0, n - 1, n // 2}
    for i in sorted(labels):
        anchor = "start" if i == 0 and n > 1 else "end" if i == n - 1 and n > 1 else "middle"
        parts.append(
            f'<text x="{x(i):.1f}" y="{h - 8}" class="axis" text-anchor="{anchor}">'
            f"{escape(points[i]['period'])}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def distribution_chart(dist: Sequence[int], w: int = 440, h: int = 180) -> Markup:
    """Eleven bars, 0–10, coloured by group."""
    pad_b, pad_t = 22, 16
    top = max(dist) or 1
    bw = w / 11
    parts = [f'<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="0–10 distribution">']
    for score, n in enumerate(dist):
        cat = "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"
        bh = (h - pad_b - pad_t) * n / top
        x0 = score * bw + 3
        parts.append(
            f'<rect x="{x0:.1f}" y="{h - pad_b - bh:.1f}" width="{bw - 6:.1f}" height="{bh:.1f}" '
            f'fill="{COLORS[cat]}"><title>{score}: {n}</title></rect>'
            f'<text x="{x0 + (bw - 6) / 2:.1f}" y="{h - 6}" class="axis" '
            f'text-anchor="middle">{score}</text>'
            f'<text x="{x0 + (bw - 6) / 2:.1f}" y="{h - pad_b - bh - 3:.1f}" class="axis" '
            f'text-anchor="middle">{n}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))

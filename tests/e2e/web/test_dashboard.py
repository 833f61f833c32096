"""The staff dashboard: log-in, CSRF, lock-out, read-only users, and the numbers it shows."""

from __future__ import annotations

import re
import time
from dataclasses import replace
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from bot.accounts.users import MAX_FAILURES, create_user, set_password
from bot.runtime import Runtime
from bot.staff.cases import QUICK_OUTCOMES
from bot.storage.models import Case, CaseEvent, StaffRole
from bot.web.app import create_app
from bot.web.dashboard.i18n import OUTCOMES as LABELS
from scoring import nps
from tests.conftest import Clock, at_hours, make_settings
from tests.helpers import audit_trail
from tests.integration.insights.seed import Answer, api_key, seed

PASSWORD = "correct horse battery"
SCORES = [10, 9, 3, 8, 6, 10]


@pytest.fixture
def staff(rt: Runtime, clock: Clock) -> None:
    with rt.db.session() as s:
        create_user(s, "ana", PASSWORD, clock())
        create_user(s, "luis", PASSWORD, clock(), StaffRole.VIEWER)
    seed(
        rt,
        [
            Answer(
                sc,
                clock() - timedelta(days=3, hours=i),
                channel="sms" if i < 3 else "whatsapp",
                comment=f"comment {i}",
                themes=["delivery"] if sc < 7 else ["staff"],
                case="open" if sc < 7 else None,
            )
            for i, sc in enumerate(SCORES)
        ],
    )


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF token in the page"
    return m.group(1)


def log_in(
    client: FlaskClient, user: str = "ana", password: str = PASSWORD, lang: str = "en"
) -> int:
    """Log in, having chosen the dashboard's language on the log-in page."""
    token = csrf_of(client.get("/dashboard/login").get_data(as_text=True))
    client.post("/dashboard/language", data={"csrf": token, "lang": lang})
    r = client.post(
        "/dashboard/login", data={"csrf": token, "username": user, "password": password}
    )
    return r.status_code


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no storage semantics
def test_the_dashboard_needs_a_log_in(client: FlaskClient, staff: None) -> None:
    r = client.get("/dashboard")
    assert r.status_code == 302 and "/dashboard/login" in r.headers["Location"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no storage semantics
def test_themes_show_the_taxonomy_label_the_alert_card_uses_not_the_key(
    client: FlaskClient, staff: None
) -> None:
    assert log_in(client) == 302
    html = client.get("/dashboard").get_data(as_text=True)
    themes = html[html.index('id="themes"') : html.index('id="comments"')]
    assert "Delivery / shipping" in themes and ">delivery<" not in themes
    comments = html[html.index('id="comments"') :]
    assert "Delivery / shipping" in comments
    assert "staff" in comments  # a key outside the taxonomy shows as it is


def test_staff_log_in_and_see_the_nps_with_its_margin(client: FlaskClient, staff: None) -> None:
    assert log_in(client) == 302
    html = client.get("/dashboard").get_data(as_text=True)
    expected = nps(SCORES)
    assert f'data-nps="{round(expected.score, 1)}"' in html
    assert f'data-margin="{round(expected.margin_of_error, 1)}"' in html
    for section in (
        "trend",
        "distribution",
        "by-channel",
        "by-survey",
        "themes",
        "cases",
        "comments",
        "followup",
        "rates",
    ):
        assert f'id="{section}"' in html
    assert "<svg" in html and "cdn" not in html.lower()


def test_the_numbers_match_the_api_for_a_channel_filter(
    client: FlaskClient, rt: Runtime, staff: None
) -> None:
    log_in(client)
    html = client.get("/dashboard?channel=sms&from=2026-01-01").get_data(as_text=True)
    api = client.get("/api/v1/nps?channel=sms&from=2026-01-01", headers=api_key(rt)).json
    assert api is not None
    assert f'data-nps="{api["nps"]}"' in html
    assert f'data-n="{api["responses"]}"' in html and api["responses"] == 3


def test_a_wrong_password_is_refused_and_the_account_locks_after_repeated_failures(
    client: FlaskClient, staff: None
) -> None:
    for _ in range(MAX_FAILURES):
        assert log_in(client, password="wrong password!") == 401
    assert log_in(client) == 429  # locked, even with the right password
    assert log_in(client, user="nobody", password="whatever12") == 401


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no storage semantics
def test_log_in_is_rate_limited_per_client_address(
    app: Flask, client: FlaskClient, staff: None
) -> None:
    limiter = app.extensions["npsbot_login_limiter"]
    limiter.limit = 3
    codes = [log_in(client, user=f"user{i}", password="whatever12") for i in range(4)]
    assert codes == [401, 401, 401, 429]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no storage semantics
def test_forms_without_the_csrf_token_are_refused(client: FlaskClient, staff: None) -> None:
    r = client.post("/dashboard/login", data={"username": "ana", "password": PASSWORD})
    assert r.status_code == 400
    log_in(client)
    r = client.post("/dashboard/cases/1/take", data={"csrf": "forged"})
    assert r.status_code == 400


def test_staff_take_and_resolve_a_case(client: FlaskClient, rt: Runtime, staff: None) -> None:
    log_in(client)
    html = client.get("/dashboard").get_data(as_text=True)
    case_id = int(re.search(r'data-case="(\d+)"', html).group(1))  # type: ignore[union-attr]
    token = csrf_of(html)
    assert client.post(f"/dashboard/cases/{case_id}/take", data={"csrf": token}).status_code == 302
    with rt.db.session() as s:
        case = s.get(Case, case_id)
        assert case is not None and (case.status, case.assignee) == ("taken", "ana")
    r = client.post(
        f"/dashboard/cases/{case_id}/resolve", data={"csrf": token, "outcome": "refunded"}
    )
    assert r.status_code == 302
    with rt.db.session() as s:
        case = s.get(Case, case_id)
        assert case is not None
        assert (case.status, case.assignee, case.outcome) == ("resolved", "ana", "refunded")
        assert case.taken_at is not None and case.resolved_at is not None
        events = s.execute(
            select(CaseEvent.kind, CaseEvent.actor_name, CaseEvent.text)
            .where(CaseEvent.case_id == case_id)
            .order_by(CaseEvent.id)
        ).all()
        assert [tuple(e) for e in events] == [
            ("taken", "ana", None),
            ("resolved", "ana", "refunded"),
        ]


def test_resolving_from_the_dashboard_needs_one_of_the_outcomes(
    client: FlaskClient, rt: Runtime, staff: None
) -> None:
    log_in(client)
    html = client.get("/dashboard").get_data(as_text=True)
    # The overview's quick form offers the outcomes a note need not explain ("other": the page).
    for key in QUICK_OUTCOMES:
        assert f'<option value="{key}">{LABELS[key]}</option>' in html
    assert '<option value="other">' not in html
    case_id = int(re.search(r'data-case="(\d+)"', html).group(1))  # type: ignore[union-attr]
    for outcome in ({}, {"outcome": "resolved"}, {"outcome": "other"}):
        r = client.post(
            f"/dashboard/cases/{case_id}/resolve", data={"csrf": csrf_of(html), **outcome}
        )
        assert r.status_code == 400
    with rt.db.session() as s:
        assert s.scalar(select(Case.status).where(Case.id == case_id)) == "open"


def test_read_only_users_see_cases_but_cannot_act(
    client: FlaskClient, rt: Runtime, staff: None
) -> None:
    log_in(client, "luis")
    html = client.get("/dashboard").get_data(as_text=True)
    assert "data-case=" in html and ">Take</button>" not in html
    case_id = int(re.search(r'data-case="(\d+)"', html).group(1))  # type: ignore[union-attr]
    r = client.post(f"/dashboard/cases/{case_id}/take", data={"csrf": csrf_of(html)})
    assert r.status_code == 403
    with rt.db.session() as s:
        assert s.scalar(select(Case.status).where(Case.id == case_id)) == "open"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no storage semantics
def test_a_bad_filter_shows_which_parameter_is_wrong(client: FlaskClient, staff: None) -> None:
    log_in(client)
    r = client.get("/dashboard?from=yesterday")
    assert r.status_code == 422 and "from" in r.get_data(as_text=True)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no storage semantics
def test_the_benchmark_line_shows_when_configured(
    app: Flask, client: FlaskClient, staff: None
) -> None:
    runtime = app.extensions["npsbot"]
    runtime.settings = replace(runtime.settings, nps_benchmark="Retail=45")
    log_in(client)
    html = client.get("/dashboard").get_data(as_text=True)
    assert 'class="bench"' in html and "Retail" in html


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no storage semantics
def test_log_out_ends_the_session(client: FlaskClient, staff: None) -> None:
    log_in(client)
    token = csrf_of(client.get("/dashboard").get_data(as_text=True))
    assert client.post("/dashboard/logout", data={"csrf": token}).status_code == 302
    assert client.get("/dashboard").status_code == 302


# --- the session cookie -------------------------------------------------------------------------
def set_cookie_of(r: TestResponse) -> str:
    cookies = [h for h in r.headers.getlist("Set-Cookie") if h.startswith("session=")]
    assert len(cookies) == 1, r.headers
    return cookies[0]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no storage semantics
def test_the_session_cookie_is_httponly_and_same_site_lax_and_not_secure_over_plain_http(
    client: FlaskClient,
) -> None:
    cookie = set_cookie_of(client.get("/dashboard/login"))
    assert "; HttpOnly" in cookie and "; SameSite=Lax" in cookie
    assert "; Secure" not in cookie


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no storage semantics
@pytest.mark.parametrize(
    ("settings", "headers", "secure"),
    [
        pytest.param({"PUBLIC_BASE_URL": "https://nps.example.com"}, {}, True, id="public-https"),
        pytest.param({"PUBLIC_BASE_URL": "http://10.0.0.5:8000"}, {}, False, id="public-http"),
        pytest.param(
            {"TRUSTED_PROXIES": "1"}, {"X-Forwarded-Proto": "https"}, True, id="trusted-proxy"
        ),
        pytest.param({}, {"X-Forwarded-Proto": "https"}, False, id="untrusted-header-ignored"),
    ],
)
def test_the_session_cookie_is_secure_behind_https(
    database_url: str, settings: dict[str, str], headers: dict[str, str], secure: bool
) -> None:
    app = create_app(make_settings(database_url, **settings))
    try:
        cookie = set_cookie_of(app.test_client().get("/dashboard/login", headers=headers))
    finally:
        app.extensions["npsbot"].close()
    assert ("; Secure" in cookie) is secure
    assert "; SameSite=Lax" in cookie


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # a trusted proxy's client
def test_behind_a_trusted_proxy_the_throttle_sees_the_forwarded_client(database_url: str) -> None:
    app = create_app(make_settings(database_url, TRUSTED_PROXIES="1"))
    try:
        with app.extensions["npsbot"].db.session() as s:
            create_user(s, "ana", PASSWORD, Clock()())
        c = app.test_client()
        for _ in range(MAX_FAILURES):
            attempt(c, password="wrong password!", headers={"X-Forwarded-For": "203.0.113.9"})
        assert attempt(c, headers={"X-Forwarded-For": "203.0.113.9"}) == 429
        assert attempt(c, headers={"X-Forwarded-For": "198.51.100.4"}) == 302
        # The audit trail names the forwarded client too (a refused 429 is no attempt).
        trail = audit_trail(app.extensions["npsbot"])
        assert [(action, source) for _actor, action, _target, source in trail] == [
            ("auth.login_failed", "203.0.113.9")
        ] * MAX_FAILURES + [("auth.login", "198.51.100.4")]
    finally:
        app.extensions["npsbot"].close()


def test_a_copy_of_the_cookie_stops_working_at_log_out(
    app: Flask, client: FlaskClient, staff: None
) -> None:
    log_in(client)
    copied = client.get_cookie("session")
    assert copied is not None
    other_device = app.test_client()
    assert log_in(other_device) == 302
    token = csrf_of(client.get("/dashboard").get_data(as_text=True))
    assert client.post("/dashboard/logout", data={"csrf": token}).status_code == 302
    replay = app.test_client()
    replay.set_cookie("session", copied.value)
    for c in (replay, other_device):
        r = c.get("/dashboard")
        assert r.status_code == 302 and "/dashboard/login" in r.headers["Location"]
    assert log_in(client) == 302 and client.get("/dashboard").status_code == 200


def test_a_new_password_ends_every_session(
    app: Flask, client: FlaskClient, rt: Runtime, staff: None
) -> None:
    log_in(client)
    assert client.get("/dashboard").status_code == 200
    with rt.db.session_for_update() as s:
        set_password(s, "ana", "a brand new password")
    assert client.get("/dashboard").status_code == 302
    assert log_in(client, password=PASSWORD) == 401
    assert log_in(client, password="a brand new password") == 302
    assert client.get("/dashboard").status_code == 200


# --- the log-in throttle ------------------------------------------------------------------------
def attempt(
    client: FlaskClient,
    user: str = "ana",
    password: str = PASSWORD,
    addr: str = "127.0.0.1",
    headers: dict[str, str] | None = None,
) -> int:
    env = {"REMOTE_ADDR": addr}
    page = client.get("/dashboard/login", environ_base=env, headers=headers)
    form = {"csrf": csrf_of(page.get_data(as_text=True)), "username": user, "password": password}
    r = client.post("/dashboard/login", data=form, environ_base=env, headers=headers)
    return r.status_code


def test_wrong_passwords_from_a_stranger_never_lock_the_account_for_staff(
    app: Flask, staff: None
) -> None:
    stranger, ana = app.test_client(), app.test_client()
    for _ in range(MAX_FAILURES * 3):
        attempt(stranger, password="wrong password!", addr="203.0.113.9")
    assert attempt(stranger, addr="203.0.113.9") == 429  # the stranger waits, even if right
    assert attempt(ana, addr="198.51.100.4") == 302  # Ana, from her own address, logs in
    assert ana.get("/dashboard").status_code == 200


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no storage semantics
def test_an_unknown_name_gets_the_same_answers_in_the_same_time(
    app: Flask, clock: Clock, staff: None
) -> None:
    app.extensions["npsbot_login_limiter"].limit = 1000
    c = app.test_client()

    def story(user: str) -> list[int]:
        codes = [attempt(c, user, "wrong password!") for _ in range(MAX_FAILURES + 1)]
        clock.advance(seconds=30)
        return [*codes, attempt(c, user, "wrong password!"), attempt(c, user, "wrong password!")]

    assert story("ana") == story("nobody") == [401] * 5 + [429, 401, 429]

    def took(user: str, client: int) -> float:
        started = time.perf_counter()
        attempt(c, user, "another wrong one", addr=f"192.0.2.{client}")
        return time.perf_counter() - started

    # The fastest of several tries (a busy machine only adds time), each from a fresh client so
    # the throttle never answers first.
    known = min(took("luis", i) for i in range(1, 6))
    unknown = min(took("nobody-else", i) for i in range(1, 6))
    assert known / 3 < unknown < known * 3, (known, unknown)  # both check one scrypt hash


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no storage semantics
@at_hours
def test_each_further_failure_doubles_the_wait_up_to_fifteen_minutes(
    app: Flask, clock: Clock, staff: None
) -> None:
    app.extensions["npsbot_login_limiter"].limit = 1000
    clock.advance(minutes=59 - clock().minute)  # the waits cross into the next hour (or day)
    c = app.test_client()
    for _ in range(MAX_FAILURES):
        assert attempt(c, password="wrong password!") == 401
    for wait in (30, 60, 120, 240, 480, 900, 900):
        clock.advance(seconds=wait - 1)
        assert attempt(c) == 429, wait  # not even the right password, from here, before
        clock.advance(seconds=1)
        assert attempt(c, password="wrong password!") == 401, wait
    clock.advance(seconds=900)
    assert attempt(c) == 302  # the right password clears the count
    assert attempt(app.test_client(), password="wrong password!") == 401


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no storage semantics
@pytest.mark.parametrize(
    ("lang", "texts"),
    [
        ("es", ["Resumen", "NPS actual", "Tasa de respuesta", "Cerrar sesión"]),
        ("pt", ["Visão geral", "NPS atual", "Taxa de resposta", "Sair"]),
        ("en", ["Overview", "NPS now", "Response rate", "Log out"]),
    ],
)
def test_the_dashboard_speaks_the_language_the_user_chose_on_every_device(
    client: FlaskClient, app: Flask, staff: None, lang: str, texts: list[str]
) -> None:
    assert log_in(client, lang=lang) == 302
    html = client.get("/dashboard").get_data(as_text=True)
    assert f'<html lang="{lang}">' in html and all(t in html for t in texts)
    # Another browser, nothing chosen there: the user's choice follows them.
    other = app.test_client()
    token = csrf_of(other.get("/dashboard/login").get_data(as_text=True))
    other.post("/dashboard/login", data={"csrf": token, "username": "ana", "password": PASSWORD})
    assert f'<html lang="{lang}">' in other.get("/dashboard").get_data(as_text=True)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no storage semantics
def test_the_log_in_page_follows_the_browser_then_the_default_language(client: FlaskClient) -> None:
    pt = client.get("/dashboard/login", headers={"Accept-Language": "pt-BR,pt;q=0.9"})
    assert "Entrar" in pt.get_data(as_text=True)
    fr = client.get("/dashboard/login", headers={"Accept-Language": "fr-FR"})
    assert '<html lang="es">' in fr.get_data(as_text=True)  # DEFAULT_LANGUAGE

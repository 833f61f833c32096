"""The audit trail from the dashboard: each staff action on it (log-in, a failed one, log-out;
users and keys; survey edits; touchpoints) leaves exactly one row naming who, what, on what and
from where, in its own transaction, and never a password or a key; owners read it at
`/dashboard/audit` (filters, pages, labels in their language), agents and viewers get 403.
The case actions and replies are in tests/e2e/staff/test_case_page.py, the address behind a
trusted proxy in test_dashboard.py, the commands in tests/e2e/cli/test_audit_cli.py."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bot.accounts.users import create_user
from bot.runtime import Runtime
from bot.storage.audit import record
from bot.storage.models import StaffRole
from tests.conftest import Clock
from tests.e2e.web.test_dashboard import PASSWORD, csrf_of, log_in
from tests.e2e.web.test_dashboard_surveys import form_of
from tests.helpers import audit_details, audit_text, audit_trail

WEB = "127.0.0.1"  # the test client's address
SECRET = "a password nobody should keep"


@pytest.fixture
def ana(rt: Runtime, clock: Clock) -> None:
    with rt.db.session() as s:
        create_user(s, "ana", PASSWORD, clock(), StaffRole.OWNER)


@pytest.fixture
def people(rt: Runtime, clock: Clock, ana: None) -> None:
    with rt.db.session() as s:
        create_user(s, "rita", PASSWORD, clock(), StaffRole.AGENT)
        create_user(s, "luis", PASSWORD, clock(), StaffRole.VIEWER)


def test_each_dashboard_action_leaves_one_row_naming_who_what_and_from_where(
    app: Flask, rt: Runtime, ana: None
) -> None:
    client = app.test_client()
    assert log_in(client, "ana", SECRET) == 401
    assert log_in(client, "ana") == 302
    token = csrf_of(client.get("/dashboard/team").get_data(as_text=True))

    def post(path: str, **form: str) -> int:
        return client.post(path, data={"csrf": token, **form}).status_code

    team = "/dashboard/team"
    assert post(f"{team}/user/create", username="eva", role="viewer", password=SECRET) == 302
    assert post(f"{team}/user/role", username="eva", role="agent") == 302
    assert post(f"{team}/user/password", username="eva", password=SECRET + "!") == 302
    assert post(f"{team}/user/disable", username="eva") == 302
    assert post(f"{team}/user/enable", username="eva") == 302
    assert post(f"{team}/user/role", username="ana", role="viewer") == 409  # refused: no row
    made = client.post(f"{team}/key/create", data={"csrf": token, "name": "shop"})
    key = re.search(r'id="secret-value" readonly value="([^"]+)"', made.get_data(as_text=True))
    assert key is not None
    assert post(f"{team}/key/revoke", name="shop", confirm="yes") == 302
    page = client.get("/dashboard/surveys/post-purchase").get_data(as_text=True)
    edit = form_of(page) | {"csrf": token, "delay_minutes": "90", "resurvey_days": "45"}
    assert client.post("/dashboard/surveys/post-purchase", data=edit).status_code == 302
    assert client.post("/dashboard/surveys/post-purchase", data=edit).status_code == 302  # same
    assert post("/dashboard/surveys", key="after-delivery", name="After delivery") == 302
    form = {"key": "store-centro", "survey": "post-purchase", "metadata": "store=Centro"}
    assert post("/dashboard/touchpoints", **form) == 302
    assert post("/dashboard/touchpoints/store-centro/rotate") == 302
    assert post("/dashboard/touchpoints/store-centro/disable") == 302
    assert post("/dashboard/logout") == 302

    ana = "dashboard:ana"
    assert audit_trail(rt) == [
        ("anonymous", "auth.login_failed", "user:ana", WEB),
        (ana, "auth.login", "user:ana", WEB),
        (ana, "user.create", "user:eva", WEB),
        (ana, "user.role", "user:eva", WEB),
        (ana, "user.password", "user:eva", WEB),
        (ana, "user.disable", "user:eva", WEB),
        (ana, "user.enable", "user:eva", WEB),
        (ana, "apikey.create", "apikey:shop", WEB),
        (ana, "apikey.revoke", "apikey:shop", WEB),
        (ana, "survey.edit", "survey:post-purchase", WEB),
        (ana, "survey.create", "survey:after-delivery", WEB),
        (ana, "touchpoint.create", "touchpoint:store-centro", WEB),
        (ana, "touchpoint.rotate", "touchpoint:store-centro", WEB),
        (ana, "touchpoint.disable", "touchpoint:store-centro", WEB),
        (ana, "auth.logout", "user:ana", WEB),
    ]
    details = audit_details(rt)
    assert details[0] == {"username": "ana"}
    assert (details[2], details[3]) == ({"role": "viewer"}, {"role": "agent"})
    assert details[9] == {"fields": ["delay_minutes", "resurvey_days"]}
    held = audit_text(rt)
    assert SECRET not in held and key.group(1) not in held  # never a password, never a key


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # reads: no storage semantics
def test_owners_read_the_trail_newest_first_with_filters_and_pages(
    app: Flask, rt: Runtime, people: None, clock: Clock
) -> None:
    with rt.db.session_for_update() as s:
        for i in range(55):
            at = clock() - timedelta(days=1 if i < 5 else 0, minutes=55 - i)
            record(s, at=at, actor="cli", action="case.take", target=f"case:{i}", source="cli")
        record(s, at=clock(), actor="api:shop", action="touchpoint.create", target="touchpoint:x")
        record(s, at=clock(), actor="customer", action="contact.erase", target="contact:7")
        record(s, at=clock() - timedelta(days=2), actor="cli", action="future.thing")
    client = app.test_client()
    assert log_in(client, "ana", lang="es") == 302
    html = client.get("/dashboard/audit").get_data(as_text=True)
    assert '<a href="/dashboard/audit" aria-current="page" class="on">Auditoría</a>' in html
    rows = re.findall(r'<tr data-action="([\w.]+)">', html)
    assert len(rows) == 50 and rows[:3] == ["auth.login", "contact.erase", "touchpoint.create"]
    assert "Tomó un caso" in html and "Borró los datos de un cliente" in html  # translated
    assert ">future.thing<" in client.get("/dashboard/audit?page=2").get_data(as_text=True)
    assert 'rel="next"' in html and 'rel="prev"' not in html
    second = client.get("/dashboard/audit?page=2").get_data(as_text=True)
    assert len(re.findall(r"<tr data-action=", second)) == 9 and 'rel="next"' not in second

    day = f"{clock() - timedelta(days=1):%Y-%m-%d}"
    for query, n in (
        ("action=case", 55),
        ("action=case.take&target=case:3", 1),
        ("actor=api:shop", 1),
        (f"since={day}&until={day}", 5),
        (f"until={day}&action=touchpoint", 0),
    ):
        page = client.get(f"/dashboard/audit?{query}").get_data(as_text=True)
        assert len(re.findall(r"<tr data-action=", page)) == min(n, 50), query
    bad = client.get("/dashboard/audit?since=ayer")
    assert bad.status_code == 422 and "Escribe el día como AAAA-MM-DD." in bad.get_data(
        as_text=True
    )

    for who in ("rita", "luis"):
        other = app.test_client()
        assert log_in(other, who) == 302
        assert other.get("/dashboard/audit").status_code == 403
        assert ">Audit<" not in other.get("/dashboard").get_data(as_text=True)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no storage semantics
def test_the_trail_page_needs_a_log_in(client: FlaskClient) -> None:
    r = client.get("/dashboard/audit")
    assert r.status_code == 302 and "/dashboard/login" in r.headers["Location"]

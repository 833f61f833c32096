"""Surveys in the dashboard: every role reads them, only owners edit; a refused value is shown
beside its field with the reason `npsbot surveys import` gives (422); es/pt pages."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from bot.accounts.users import create_user
from bot.runtime import Runtime
from bot.storage.models import StaffRole, Survey
from tests.conftest import Clock
from tests.e2e.web.test_dashboard import PASSWORD, csrf_of, log_in

PAGE = "/dashboard/surveys/post-purchase"
PT_QUESTION = "Olá! De 0 a 10, quanto você recomendaria a {business}?"


@pytest.fixture
def team(rt: Runtime, clock: Clock) -> None:
    with rt.db.session() as s:
        create_user(s, "ana", PASSWORD, clock(), StaffRole.OWNER)
        create_user(s, "eva", PASSWORD, clock(), StaffRole.AGENT)
        create_user(s, "luis", PASSWORD, clock(), StaffRole.VIEWER)


def form_of(html: str) -> dict[str, Any]:
    """The survey form's fields as the browser would post them, unchanged."""
    form = html[html.index('id="survey-form"') :]
    data: dict[str, Any] = {}
    for tag in re.findall(r"<input [^>]*>", form):
        name, value = re.search(r'name="([^"]+)"', tag), re.search(r'value="([^"]*)"', tag)
        if name is None or value is None:
            continue
        if 'type="checkbox"' in tag:
            if " checked" in tag:
                data.setdefault(name.group(1), []).append(unescape(value.group(1)))
        else:
            data[name.group(1)] = unescape(value.group(1))
    for name, text in re.findall(r'<textarea [^>]*?name="([^"]+)"[^>]*>([^<]*)</textarea>', form):
        data[name] = unescape(text)
    for name, options in re.findall(r'<select name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', options)
        data[name] = chosen.group(1) if chosen else ""
    return data


def stored(rt: Runtime) -> Survey:
    with rt.db.session() as s:
        row = s.scalar(select(Survey).where(Survey.key == "post-purchase"))
        assert row is not None
        return row


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no storage semantics
def test_an_owner_changes_the_portuguese_question_and_it_is_stored(
    client: FlaskClient, rt: Runtime, team: None
) -> None:
    assert log_in(client) == 302
    html = client.get(PAGE).get_data(as_text=True)
    data = form_of(html) | {"texts.pt.question": PT_QUESTION, "channels.sandbox": "1"}
    data |= {"channels.whatsapp": "2", "channels.sms": "3", "channels.telegram": ""}
    r = client.post(PAGE, data=data)
    assert r.status_code == 302 and "saved=1" in r.headers["Location"]
    row = stored(rt)
    assert row.texts == {"pt": {"question": PT_QUESTION}}
    assert row.channels == ["sandbox", "whatsapp", "sms"]
    assert row.updated_by == "dashboard:ana"
    assert row.options == {} and row.delay_minutes == 120  # nothing else changed
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert 'id="saved"' in page and PT_QUESTION in page
    listing = client.get("/dashboard/surveys").get_data(as_text=True)
    assert "dashboard:ana" in listing and "Sandbox → WhatsApp → SMS" in listing


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no storage semantics
def test_every_field_of_the_form_round_trips_unchanged(
    client: FlaskClient, rt: Runtime, team: None
) -> None:
    assert log_in(client) == 302
    data = form_of(client.get(PAGE).get_data(as_text=True)) | {
        "quiet_hours.start": "22:00",
        "quiet_hours.end": "08:00",
        "reminder_hours": "0",
        "whatsapp_templates.pt.sid": "HX0a1b2c3d4e5f60718293a4b5c6d7e8f9",
        "whatsapp_templates.pt.variables": "2 = Loja Exemplo",
        "promoter_links.default": "https://g.page/r/acme/review",
        "alert_on": ["detractor", "passive"],
        "alert_themes": ["delivery"],
        "whatsapp_optin": "required",
    }
    assert client.post(PAGE, data=data).status_code == 302
    row = stored(rt)
    assert row.reminder_hours is None
    assert row.options == {
        "quiet_hours": ["22:00", "08:00"],
        "whatsapp_optin": "required",
        "whatsapp_templates": {
            "pt": {"sid": "HX0a1b2c3d4e5f60718293a4b5c6d7e8f9", "variables": {"2": "Loja Exemplo"}}
        },
        "alert_on": ["detractor", "passive"],
        "alert_themes": ["delivery"],
        "promoter_links": {"default": "https://g.page/r/acme/review"},
    }
    before = row.updated_at
    html = client.get(PAGE).get_data(as_text=True)
    assert client.post(PAGE, data=form_of(html)).status_code == 302
    assert stored(rt).updated_at == before  # the page shows what is stored: nothing changed


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no storage semantics
def test_bad_values_are_refused_beside_their_fields_with_the_import_s_reasons(
    client: FlaskClient, rt: Runtime, team: None
) -> None:
    assert log_in(client) == 302
    data = form_of(client.get(PAGE).get_data(as_text=True)) | {
        "delay_minutes": "two hours",
        "texts.pt.question": "Oi {nome}, de 0 a 10?",
        "whatsapp_templates.es.sid": "HX123",
        "promoter_links.pt": "g.page/r/acme",
        "channels.sms": "1",
        "channels.whatsapp": "1",
    }
    r = client.post(PAGE, data=data)
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert 'data-field="channels">two channels have the same position' in html
    data["channels.whatsapp"] = "2"
    r = client.post(PAGE, data=data)
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    for field, reason in [
        ("delay_minutes", "a whole number from 0 to 525600"),
        ("texts.pt.question", "unknown placeholder {nome}; allowed: {business}"),
        ("whatsapp_templates.es.sid", "a Content SID: HX and 32 hexadecimal digits"),
        ("promoter_links.pt", "an http:// or https:// address"),
    ]:
        assert f'data-field="{field}">{reason}' in html, field
    assert "Oi {nome}, de 0 a 10?" in html  # what was typed stays in the form
    assert stored(rt).texts == {} and stored(rt).delay_minutes == 120


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no storage semantics
@pytest.mark.parametrize("user", ["eva", "luis"], ids=["agent", "viewer"])
def test_agents_and_viewers_read_the_surveys_but_may_not_change_them(
    client: FlaskClient, rt: Runtime, team: None, user: str
) -> None:
    assert log_in(client, user) == 302
    assert client.get("/dashboard/surveys").status_code == 200
    html = client.get(PAGE).get_data(as_text=True)
    assert "<fieldset disabled>" in html and 'id="save"' not in html
    data = form_of(html) | {"csrf": csrf_of(html), "texts.pt.question": PT_QUESTION}
    assert client.post(PAGE, data=data).status_code == 403
    token = csrf_of(client.get("/dashboard/surveys").get_data(as_text=True))
    created = client.post("/dashboard/surveys", data={"csrf": token, "key": "x", "name": "X"})
    assert created.status_code == 403
    assert stored(rt).texts == {}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no storage semantics
def test_an_owner_creates_a_survey_by_key_and_name(
    client: FlaskClient, rt: Runtime, team: None
) -> None:
    assert log_in(client) == 302
    token = csrf_of(client.get("/dashboard/surveys").get_data(as_text=True))
    r = client.post(
        "/dashboard/surveys", data={"csrf": token, "key": "after-delivery", "name": "Delivered"}
    )
    assert r.status_code == 302 and r.headers["Location"].endswith("/surveys/after-delivery")
    again = client.post(
        "/dashboard/surveys", data={"csrf": token, "key": "after-delivery", "name": "X"}
    )
    assert again.status_code == 422
    assert "a survey with this key already exists" in again.get_data(as_text=True)
    bad = client.post("/dashboard/surveys", data={"csrf": token, "key": "con espacio", "name": "X"})
    assert bad.status_code == 422 and 'id="error-key"' in bad.get_data(as_text=True)
    no_csrf = client.post("/dashboard/surveys", data={"key": "other", "name": "Other"})
    assert no_csrf.status_code == 400
    assert client.get("/dashboard/surveys/nowhere").status_code == 404


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no storage semantics
@pytest.mark.parametrize(
    ("lang", "label", "reason", "default_question"),
    [
        ("es", "Canales, en orden", "un número entero de 0 a 525600", "¿qué tan probable"),
        ("pt", "Canais, em ordem", "um número inteiro de 0 a 525600", "qual a chance de nos"),
    ],
)
def test_the_page_speaks_the_user_s_language(
    client: FlaskClient, team: None, lang: str, label: str, reason: str, default_question: str
) -> None:
    assert log_in(client, lang=lang) == 302
    html = client.get(PAGE).get_data(as_text=True)
    assert label in html
    # The default text in the page's language is the placeholder of its question field.
    field = re.search(rf'name="texts.{lang}.question"[^>]*placeholder="([^"]*)"', html)
    assert field and default_question in field.group(1)
    r = client.post(PAGE, data=form_of(html) | {"csrf": csrf_of(html), "delay_minutes": "-1"})
    assert r.status_code == 422 and reason in r.get_data(as_text=True)

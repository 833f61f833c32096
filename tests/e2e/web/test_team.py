"""The team page: owners manage users and API keys; agents and viewers are refused; a refused
change names its field; a generated password or a key is shown once; a changed role, a disabled
account or a new password sends that user's open session back to the log-in page."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from bot.accounts.apikeys import create_key
from bot.accounts.users import create_user
from bot.runtime import Runtime
from bot.storage.models import ApiKey, StaffRole, StaffUser
from tests.conftest import Clock
from tests.e2e.web.test_dashboard import PASSWORD, csrf_of, log_in

TEAM = "/dashboard/team"


@pytest.fixture
def people(rt: Runtime, clock: Clock) -> None:
    with rt.db.session() as s:
        create_user(s, "ana", PASSWORD, clock(), StaffRole.OWNER)
        create_user(s, "rita", PASSWORD, clock(), StaffRole.AGENT)
        create_user(s, "luis", PASSWORD, clock(), StaffRole.VIEWER)


def owner(app: Flask, lang: str = "en") -> FlaskClient:
    client = app.test_client()
    assert log_in(client, "ana", lang=lang) == 302
    return client


def post(client: FlaskClient, path: str, **form: str) -> TestResponse:
    token = csrf_of(client.get(TEAM).get_data(as_text=True))
    return client.post(f"{TEAM}/{path}", data={"csrf": token, **form})


def shown_secret(r: TestResponse) -> str:
    m = re.search(r'id="secret-value" readonly value="([^"]+)"', r.get_data(as_text=True))
    assert m, "no secret on the page"
    return m.group(1)


def account(rt: Runtime, name: str) -> StaffUser:
    with rt.db.session() as s:
        user = s.scalar(select(StaffUser).where(StaffUser.username == name))
        assert user is not None
        return user


def test_an_owner_sees_the_users_and_the_keys(app: Flask, rt: Runtime, people: None) -> None:
    with rt.db.session() as s:
        create_key(s, "shop", rt.clock())
    html = owner(app).get(TEAM).get_data(as_text=True)
    for name, role in (("ana", "Owner"), ("rita", "Agent"), ("luis", "Viewer")):
        row = html[html.index(f'data-user="{name}"') :]
        assert f"<td>{role}</td>" in row[: row.index("</tr>")]
    assert "(you)" in html and "never" in html
    key_row = html[html.index('data-key="shop"') :]
    assert "nps_" in key_row and "…" in key_row
    assert '<a href="/dashboard/team" aria-current="page" class="on">Team</a>' in html


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no storage semantics
@pytest.mark.parametrize("who", ["rita", "luis"])
def test_agents_and_viewers_are_refused_with_the_reason(
    app: Flask, rt: Runtime, people: None, who: str
) -> None:
    client = app.test_client()
    assert log_in(client, who) == 302
    r = client.get(TEAM)
    assert r.status_code == 403 and r.json == {
        "error": "forbidden",
        "reason": "Only these roles may do this: Owner.",
    }
    token = csrf_of(client.get("/dashboard").get_data(as_text=True))
    for path, form in (
        ("user/role", {"username": who, "role": "owner"}),
        ("user/create", {"username": "eva", "role": "owner", "password": "x" * 12}),
        ("key/create", {"name": "mine"}),
    ):
        assert client.post(f"{TEAM}/{path}", data={"csrf": token, **form}).status_code == 403
    assert account(rt, who).role != "owner"
    assert ">Team<" not in client.get("/dashboard").get_data(as_text=True)


def test_an_owner_creates_a_user_who_can_log_in(app: Flask, rt: Runtime, people: None) -> None:
    client = owner(app)
    r = post(client, "user/create", username="eva", role="agent", password="eva's password")
    assert r.status_code == 302
    assert "eva can log in now, as Agent." in client.get(TEAM).get_data(as_text=True)
    assert account(rt, "eva").role == "agent"
    assert log_in(app.test_client(), "eva", "eva's password") == 302


def test_a_generated_password_is_shown_once(app: Flask, rt: Runtime, people: None) -> None:
    client = owner(app)
    r = post(client, "user/create", username="eva", role="viewer", password="")
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    password = shown_secret(r)
    assert "The password for eva" in r.get_data(as_text=True) and len(password) >= 10
    assert password not in client.get(TEAM).get_data(as_text=True)
    assert log_in(app.test_client(), "eva", password) == 302


@pytest.mark.parametrize(
    ("form", "status", "field", "text"),
    [
        ({"password": "short"}, 422, "password", "The password needs at least 10 characters."),
        ({"username": "a b"}, 422, "username", "The name takes 2 to 64 letters"),
        ({"username": "rita"}, 409, "username", "A user named rita exists already."),
        ({"role": "boss"}, 422, "role", "Choose one of the roles."),
    ],
)
def test_a_refused_new_user_shows_the_form_again_with_the_field_named(
    app: Flask, rt: Runtime, people: None, form: dict[str, str], status: int, field: str, text: str
) -> None:
    sent = {"username": "eva", "role": "agent", "password": "long enough 1", **form}
    r = post(owner(app), "user/create", **sent)
    html = r.get_data(as_text=True)
    assert r.status_code == status
    assert f'<p class="error" role="alert" id="user-create-error">{text}' in html
    named = re.search(rf'name="{field}"[^>]*aria-invalid="true"', html)
    assert named, f"{field} is not marked"
    assert f'name="username" value="{sent["username"]}"' in html  # what was typed stays
    assert "long enough 1" not in html  # never a password
    with rt.db.session() as s:
        assert s.scalar(select(StaffUser).where(StaffUser.username == "eva")) is None


def test_a_demoted_owner_is_sent_to_log_in_and_comes_back_with_the_new_role(
    app: Flask, rt: Runtime, people: None
) -> None:
    assert post(owner(app), "user/role", username="rita", role="owner").status_code == 302
    rita = app.test_client()
    assert log_in(rita, "rita") == 302 and rita.get(TEAM).status_code == 200
    r = post(owner(app), "user/role", username="rita", role="viewer")
    assert r.status_code == 302
    back = rita.get(TEAM)  # her open session carried "owner": it has ended
    assert back.status_code == 302 and "/dashboard/login" in back.headers["Location"]
    assert log_in(rita, "rita") == 302
    assert rita.get(TEAM).status_code == 403
    assert account(rt, "rita").role == "viewer"


def test_the_last_owner_can_neither_demote_nor_disable_themself(
    app: Flask, rt: Runtime, people: None
) -> None:
    client = owner(app)
    for path, form in (("user/role", {"role": "agent"}), ("user/disable", {})):
        r = post(client, path, username="ana", **form)
        html = r.get_data(as_text=True)
        assert r.status_code == 409
        assert "ana is the only owner: make someone else owner first." in html
        assert "<details open>\n        <summary>Manage ana</summary>" in html
    assert (account(rt, "ana").role, account(rt, "ana").disabled_at) == ("owner", None)
    assert client.get(TEAM).status_code == 200  # still logged in, still an owner


def test_an_owner_with_a_second_owner_may_step_down(app: Flask, rt: Runtime, people: None) -> None:
    client = owner(app)
    post(client, "user/role", username="rita", role="owner")
    assert post(client, "user/role", username="ana", role="agent").status_code == 302
    assert client.get(TEAM).status_code == 302  # her own session ended with her old role
    assert account(rt, "ana").role == "agent"


def test_disabling_ends_the_session_and_enabling_lets_them_back(
    app: Flask, rt: Runtime, people: None
) -> None:
    rita = app.test_client()
    assert log_in(rita, "rita") == 302 and rita.get("/dashboard").status_code == 200
    client = owner(app)
    assert post(client, "user/disable", username="rita").status_code == 302
    html = client.get(TEAM).get_data(as_text=True)
    assert "rita is disabled: their sessions have ended." in html and "Disabled since" in html
    assert rita.get("/dashboard").status_code == 302
    assert log_in(rita, "rita") == 401
    assert post(client, "user/enable", username="rita").status_code == 302
    assert log_in(rita, "rita") == 302


def test_a_password_reset_ends_their_sessions_and_a_generated_one_is_shown_once(
    app: Flask, rt: Runtime, people: None
) -> None:
    rita = app.test_client()
    assert log_in(rita, "rita") == 302
    client = owner(app)
    password = shown_secret(post(client, "user/password", username="rita", password=""))
    assert rita.get("/dashboard").status_code == 302
    assert log_in(rita, "rita") == 401 and log_in(rita, "rita", password) == 302
    r = post(client, "user/password", username="ana", password="ana's new password")
    assert r.status_code == 302 and client.get(TEAM).status_code == 200  # this session stays
    assert log_in(app.test_client(), "ana", "ana's new password") == 302


def test_a_key_is_shown_once_works_and_stops_working_when_revoked(
    app: Flask, client: FlaskClient, rt: Runtime, people: None
) -> None:
    page = owner(app)
    r = post(page, "key/create", name="shop")
    html = r.get_data(as_text=True)
    key = shown_secret(r)
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    assert 'id="copy"' in html and "navigator.clipboard" in html and "The key shop" in html
    later = page.get(TEAM).get_data(as_text=True)
    assert key not in later and key[:12] + "…" in later
    bearer = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/v1/nps", headers=bearer).status_code == 200
    unconfirmed = post(page, "key/revoke", name="shop")
    assert (
        unconfirmed.status_code == 400
        and client.get("/api/v1/nps", headers=bearer).status_code == 200
    )
    assert post(page, "key/revoke", name="shop", confirm="yes").status_code == 302
    assert "The key shop is revoked" in page.get(TEAM).get_data(as_text=True)
    assert client.get("/api/v1/nps", headers=bearer).status_code == 401
    with rt.db.session() as s:
        assert s.scalar(select(ApiKey.revoked_at)) is not None


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no storage semantics
def test_a_refused_key_names_its_field(app: Flask, people: None) -> None:
    client = owner(app)
    post(client, "key/create", name="shop")
    r = post(client, "key/create", name="shop")
    html = r.get_data(as_text=True)
    assert r.status_code == 409 and "A key named shop exists already: revoke it first." in html
    assert re.search(r'name="name" value="shop"[^>]*aria-invalid="true"', html)
    gone = post(client, "key/revoke", name="pos", confirm="yes")
    assert gone.status_code == 404 and "There is no active key named pos." in gone.get_data(
        as_text=True
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no storage semantics
def test_team_forms_without_the_csrf_token_are_refused(
    app: Flask, rt: Runtime, people: None
) -> None:
    client = owner(app)
    for path, form in (
        ("user/create", {"username": "eva", "role": "owner", "password": "x" * 12}),
        ("user/disable", {"username": "rita"}),
        ("key/create", {"name": "shop"}),
    ):
        for token in ({}, {"csrf": "forged"}):
            assert client.post(f"{TEAM}/{path}", data={**form, **token}).status_code == 400
    assert account(rt, "rita").disabled_at is None
    with rt.db.session() as s:
        assert s.scalar(select(ApiKey)) is None
        assert s.scalar(select(StaffUser).where(StaffUser.username == "eva")) is None


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no storage semantics
@pytest.mark.parametrize(
    ("lang", "texts", "refusal"),
    [
        (
            "es",
            ["Usuarios", "Claves de API", "Usuario nuevo", "Propietario", "Gestionar a rita"],
            "ana es el único propietario: primero haz propietario a otra persona.",
        ),
        (
            "pt",
            ["Usuários", "Chaves de API", "Usuário novo", "Proprietário", "Gerenciar rita"],
            "ana é o único proprietário: primeiro torne outra pessoa proprietária.",
        ),
    ],
)
def test_the_team_page_speaks_spanish_and_portuguese(
    app: Flask, people: None, lang: str, texts: list[str], refusal: str
) -> None:
    client = owner(app, lang)
    html = client.get(TEAM).get_data(as_text=True)
    assert f'<html lang="{lang}">' in html and all(t in html for t in texts)
    assert refusal in post(client, "user/disable", username="ana").get_data(as_text=True)
    key = post(client, "key/create", name="tienda").get_data(as_text=True)
    assert {"es": "Cópiala ahora", "pt": "Copie agora"}[lang] in key


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no storage semantics
def test_the_language_menu_on_a_form_answer_goes_back_to_the_team_page(
    app: Flask, people: None
) -> None:
    client = owner(app)
    r = client.get(f"{TEAM}/key/create")
    assert r.status_code == 302 and r.headers["Location"] == TEAM

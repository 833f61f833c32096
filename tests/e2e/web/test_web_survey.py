"""The web survey page through Flask's client, in Spanish, English and Portuguese: the score,
the why, the thanks; a second submit changes nothing; unknown and closed links get a clear page;
the purchases API hands out `survey_url`."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from bot.accounts.apikeys import create_key
from bot.events import RecordingBus
from bot.runtime import Runtime
from bot.storage.audit import BY_CLI
from bot.storage.models import Invitation, Response, Survey
from bot.survey import touchpoints
from bot.survey.weblink import read_token, token
from bot.web.app import create_app
from tests.conftest import Clock, make_settings

PUBLIC = "https://nps.example.com"
# What each language's page says: a word of the question, the why for a 3, the thanks.
SAYS = {
    "es": ("recomiendes", "¿Cuál es el motivo principal", "Gracias por contarnos"),
    "en": ("recommend us", "What is the main reason", "Thank you for telling us"),
    "pt": ("recomendar", "Qual é o principal motivo", "Obrigado por nos contar"),
}


@pytest.fixture
def app(database_url: str, clock: Clock, bus: RecordingBus) -> Iterator[Flask]:
    app = create_app(make_settings(database_url, PUBLIC_BASE_URL=PUBLIC), bus=bus)
    app.extensions["npsbot"].clock = clock
    yield app
    app.extensions["npsbot"].close()


def buy(client: FlaskClient, rt: Runtime, order: str, language: str = "es") -> dict[str, object]:
    with rt.db.session() as s:
        key = create_key(s, f"shop-{order}", rt.clock())
    r = client.post(
        "/api/v1/purchases",
        headers={"Authorization": f"Bearer {key}"},
        json={
            "order_id": order,
            "customer": {"id": f"C-{order}", "name": "Ana", "language": language},
            "channels": ["sandbox"],
        },
    )
    assert r.status_code == 201, r.json
    assert isinstance(r.json, dict)
    return r.json


def path_of(url: object) -> str:
    assert isinstance(url, str) and url.startswith(f"{PUBLIC}/s/")
    return url.removeprefix(PUBLIC)


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.mark.parametrize("language", ["es", "en", "pt"])
def test_score_then_why_then_thanks_in_the_customers_language(
    client: FlaskClient, rt: Runtime, language: str
) -> None:
    page = path_of(buy(client, rt, f"W-{language}", language)["survey_url"])
    question, why, thanks = SAYS[language]

    r = client.get(page)
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and f'<html lang="{language}">' in html
    assert question in text(html)
    assert html.count('type="submit" name="score"') == 11  # works without JS
    assert r.headers["Referrer-Policy"] == "no-referrer"
    assert r.headers["Cache-Control"] == "no-store"
    assert "https://" not in html.replace(PUBLIC, "")  # no CDN

    r = client.post(page, data={"score": "3"})
    assert (r.status_code, r.headers["Location"]) == (303, page)
    html = client.get(page).get_data(as_text=True)
    assert why in text(html) and '<label for="why">' in html and 'name="why"' in html

    r = client.post(page, data={"why": "El pedido llegó roto"})
    assert r.status_code == 303
    html = client.get(page).get_data(as_text=True)
    assert thanks in text(html) and 'name="score"' not in html

    # A second submit (a reload, another score, another why) shows the thanks, changes nothing.
    client.post(page, data={"score": "10"})
    client.post(page, data={"why": "otra cosa"})
    assert thanks in text(client.get(page).get_data(as_text=True))
    inv_id = read_token(rt.settings.secret_key, page.removeprefix("/s/"))
    with rt.db.session() as s:
        inv = s.get(Invitation, inv_id)
        assert inv is not None and inv.response is not None
        r_ = inv.response
        assert (r_.score, r_.category, r_.channel, r_.comment) == (
            3,
            "detractor",
            "web",
            "El pedido llegó roto",
        )


def test_the_survey_texts_override_the_page_question(client: FlaskClient, rt: Runtime) -> None:
    with rt.db.session() as s:
        survey = s.query(Survey).one()
        survey.texts = {"en": {"question": "Would you recommend Tienda, 0 to 10?"}}
    page = path_of(buy(client, rt, "W-override", "en")["survey_url"])
    assert "Would you recommend Tienda, 0 to 10?" in client.get(page).get_data(as_text=True)


def test_the_skip_button_completes_without_a_comment(client: FlaskClient, rt: Runtime) -> None:
    page = path_of(buy(client, rt, "W-skip")["survey_url"])
    client.post(page, data={"score": "9"})
    client.post(page, data={"why": "ignored", "skip": "1"})
    with rt.db.session() as s:
        r = s.query(Response).one()
        assert (r.score, r.comment, r.completed_at is not None) == (9, None, True)


def test_a_score_the_page_never_offers_is_refused_on_the_page(
    client: FlaskClient, rt: Runtime
) -> None:
    page = path_of(buy(client, rt, "W-bad")["survey_url"])
    for bad in ("11", "-1", "", "nueve", "3.5"):
        r = client.post(page, data={"score": bad})
        assert r.status_code == 400 and 'role="alert"' in r.get_data(as_text=True)
    with rt.db.session() as s:
        assert s.query(Response).count() == 0


@pytest.mark.parametrize(
    "forged",
    [
        pytest.param("nope", id="garbage"),
        pytest.param(token("another secret", 1), id="another-secret"),
        pytest.param(token("x" * 64, 1)[:-1], id="altered"),
    ],
)
def test_an_unknown_link_is_a_clear_404_page(client: FlaskClient, rt: Runtime, forged: str) -> None:
    buy(client, rt, "W-1")
    for r in (client.get(f"/s/{forged}"), client.post(f"/s/{forged}", data={"score": "1"})):
        html = r.get_data(as_text=True)
        assert r.status_code == 404 and "Traceback" not in html
        assert 'id="unknown"' in html and "<html lang=" in html
    gone = token(rt.settings.secret_key, 999_999)  # genuine, but no such invitation
    assert client.get(f"/s/{gone}").status_code == 404


def test_an_expired_link_is_a_clear_410_page(
    client: FlaskClient, rt: Runtime, clock: Clock
) -> None:
    page = path_of(buy(client, rt, "W-old", "pt")["survey_url"])
    clock.advance(hours=73)  # due at once (sandbox), then the survey's 72 h
    r = client.get(page)
    assert r.status_code == 410 and "Esta pesquisa não está mais aberta" in r.get_data(as_text=True)
    assert client.post(page, data={"score": "5"}).status_code == 410


def test_the_api_gives_the_survey_url_with_the_invitation(client: FlaskClient, rt: Runtime) -> None:
    body = buy(client, rt, "W-api")
    url = body["survey_url"]
    path_of(url)
    with rt.db.session() as s:
        key = create_key(s, "reader", rt.clock())
    got = client.get(
        f"/api/v1/invitations/{body['invitation_id']}", headers={"Authorization": f"Bearer {key}"}
    )
    assert got.status_code == 200 and got.json is not None and got.json["survey_url"] == url


def test_a_skipped_invitation_has_no_survey_url(client: FlaskClient, rt: Runtime) -> None:
    buy(client, rt, "W-first")
    with rt.db.session() as s:
        key = create_key(s, "again", rt.clock())
    r = client.post(
        "/api/v1/purchases",
        headers={"Authorization": f"Bearer {key}"},
        json={"order_id": "W-second", "customer": {"id": "C-W-first"}, "channels": ["sandbox"]},
    )
    assert r.json is not None
    assert (r.json["status"], r.json["reason"], r.json["survey_url"]) == (
        "skipped",
        "open_invitation",
        None,
    )


def test_without_public_base_url_the_survey_url_is_the_callers_own_host(
    database_url: str, clock: Clock, bus: RecordingBus
) -> None:
    app = create_app(make_settings(database_url), bus=bus)
    rt: Runtime = app.extensions["npsbot"]
    rt.clock = clock
    try:
        client = app.test_client()
        with rt.db.session() as s:
            key = create_key(s, "shop", rt.clock())
        r = client.post(
            "/api/v1/purchases",
            base_url="https://shop.example.org",
            headers={"Authorization": f"Bearer {key}"},
            json={"order_id": "W-host", "customer": {"id": "C-1"}, "channels": ["sandbox"]},
        )
        assert r.json is not None
        url = r.json["survey_url"]
        assert url.startswith("https://shop.example.org/s/")
        page = client.get(url.removeprefix("https://shop.example.org"))
        assert page.status_code == 200
    finally:
        rt.close()


def test_a_touchpoints_web_link_asks_first_and_makes_the_survey_only_at_the_tap(
    client: FlaskClient, rt: Runtime
) -> None:
    spec = touchpoints.parse_touchpoint(
        {"key": "store-centro", "survey": "post-purchase", "metadata": {"store": "Centro"}}
    )
    tp, _created = touchpoints.save(rt, spec, BY_CLI)
    link = touchpoints.links(rt, tp)["web"]["url"]
    assert link == f"{PUBLIC}/s/t/{tp.code}"
    page = client.get(path_of(link).lower(), headers={"Accept-Language": "pt-BR"})
    assert page.status_code == 200 and SAYS["pt"][0] in page.get_data(as_text=True)
    with rt.db.session() as s:  # a scan, a link preview: nothing written
        assert s.scalar(select(func.count()).select_from(Invitation)) == 0
    tapped = client.post(path_of(link), data={"score": "3"}, headers={"Accept-Language": "pt"})
    assert tapped.status_code == 303 and "/s/" in tapped.headers["Location"]
    why = client.get(tapped.headers["Location"]).get_data(as_text=True)
    assert SAYS["pt"][1] in why
    with rt.db.session() as s:
        inv = s.scalars(select(Invitation)).one()
        assert inv.meta == {"store": "Centro", "touchpoint": "store-centro"}
        assert (inv.response.score, inv.response.channel) == (3, "web")


def test_a_disabled_or_unknown_touchpoint_code_gets_a_clear_page(
    client: FlaskClient, rt: Runtime
) -> None:
    spec = touchpoints.parse_touchpoint({"key": "van-1", "survey": "post-purchase"})
    tp, _created = touchpoints.save(rt, spec, BY_CLI)
    touchpoints.disable(rt, "van-1", BY_CLI)
    assert client.get(f"/s/t/{tp.code}").status_code == 410
    assert client.post(f"/s/t/{tp.code}", data={"score": "9"}).status_code == 410
    assert client.get("/s/t/NPS-NOPE123").status_code == 404
    with rt.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Invitation)) == 0

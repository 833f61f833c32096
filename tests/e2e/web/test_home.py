"""`GET /`: a landing page, in the visitor's language, linking the sandbox, the dashboard and
the API docs (it was a JSON 404)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bot.events import RecordingBus
from bot.web.app import create_app
from tests.conftest import make_settings

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.mark.parametrize(
    ("accept", "language", "words"),
    [
        pytest.param("es-MX,es;q=0.9,en;q=0.5", "es", "Encuestas NPS", id="es-MX"),
        pytest.param("pt-BR", "pt", "Pesquisas NPS", id="pt-BR"),
        pytest.param("en-US,en;q=0.8", "en", "NPS surveys", id="en-US"),
        pytest.param("fr-FR", "en", "NPS surveys", id="other-falls-back-to-english"),
        pytest.param("", "en", "NPS surveys", id="none-given"),
    ],
)
def test_the_root_is_a_landing_page_in_the_visitors_language(
    client: FlaskClient, accept: str, language: str, words: str
) -> None:
    r = client.get("/", headers={"Accept-Language": accept} if accept else {})
    html = r.get_data(as_text=True)
    assert (r.status_code, r.mimetype) == (200, "text/html")
    assert r.headers["Content-Language"] == language and f'<html lang="{language}">' in html
    assert words in html
    for href in ("/sandbox", "/dashboard", "/api/v1/openapi.json"):
        assert f'href="{href}"' in html


def test_every_link_on_the_landing_page_answers(client: FlaskClient) -> None:
    html = client.get("/").get_data(as_text=True)
    for href in ("/sandbox", "/dashboard", "/api/v1/openapi.json", "/healthz"):
        assert f'href="{href}"' in html
        assert client.get(href).status_code in (200, 302), href  # the dashboard asks to log in


@pytest.fixture
def no_sandbox(database_url: str, bus: RecordingBus) -> Iterator[Flask]:
    app = create_app(make_settings(database_url, SANDBOX_ENABLED="false"), bus=bus)
    yield app
    app.extensions["npsbot"].close()


def test_without_the_sandbox_the_page_does_not_link_it(no_sandbox: Flask) -> None:
    html = no_sandbox.test_client().get("/").get_data(as_text=True)
    assert 'href="/sandbox"' not in html and 'href="/dashboard"' in html

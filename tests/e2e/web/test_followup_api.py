"""`GET /api/v1/reports/followup` over HTTP: the API key, the report filters, `by_meta`, `limit`,
and 422 with a reason naming the parameter; and the dashboard card rendered from it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po
from flask import Flask, render_template
from flask.testing import FlaskClient
from jinja2.ext import babel_extract
from markupsafe import Markup
from sqlalchemy import select

from bot.insights.filters import Filters
from bot.runtime import Runtime
from bot.staff.cases import Actor
from bot.staff.desk import act
from bot.storage.models import Case
from bot.web.dashboard.followup import followup_context
from tests.conftest import Clock
from tests.integration.insights.seed import Answer, api_key, seed

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
URL = "/api/v1/reports/followup"
WEB = Path(__file__).resolve().parents[3] / "bot" / "web"
CARD = "dashboard/_followup.html"


@pytest.fixture
def headers(rt: Runtime, clock: Clock) -> dict[str, str]:
    """Centro's case taken after 12 min and resolved after 3 h; Norte's still open. Centro's
    customer answers again 6 days later with a 9."""
    ids = seed(
        rt,
        [
            Answer(2, T0, store="centro", case="open", customer="Marta"),
            Answer(5, T0, store="norte", case="open"),
        ],
    )
    with rt.db.session() as s:
        centro = s.scalar(select(Case.id).where(Case.response_id == ids[0]))
    assert centro is not None
    ana = Actor("7", "Ana")
    clock.now = T0 + timedelta(minutes=12)
    act(rt, centro, "take", ana)
    clock.now = T0 + timedelta(hours=3)
    act(rt, centro, "resolve", ana, "refunded")
    seed(rt, [Answer(9, T0 + timedelta(days=6), customer="Marta")])
    clock.now = T0 + timedelta(hours=30)
    return api_key(rt)


def get(client: FlaskClient, url: str, headers: dict[str, str], status: int = 200) -> Any:
    r = client.get(url, headers=headers)
    assert r.status_code == status, r.json
    return r.json


def test_the_report_needs_an_api_key(client: FlaskClient, headers: dict[str, str]) -> None:
    body = get(client, URL, {}, 401)
    assert body["error"] == "unauthorized" and body["reason"]
    assert get(client, URL, {"Authorization": "Bearer nope"}, 401)["error"] == "unauthorized"


def test_the_report_over_http(client: FlaskClient, headers: dict[str, str]) -> None:
    body = get(client, URL, headers)
    o = body["overall"]
    assert (o["cases"], o["resolved"], o["overdue"]) == (2, 1, 1)  # Norte's: 30 h unresolved
    assert o["time_to_take"]["median_minutes"] == 12.0
    assert o["time_to_resolve"]["median_minutes"] == 180.0
    assert o["resolved_in_time"] == {"within": 1, "decided": 2, "share": 0.5}
    assert [g["value"] for g in body["by_store"]] == ["centro", "norte"]
    assert [(g["agent"], g["name"]) for g in body["by_agent"]] == [("7", "Ana"), (None, None)]
    rec = body["recovery"]
    assert (rec["answered_again"], rec["average_change"]) == (1, 7.0)
    assert rec["items"][0]["days_between"] == 6.0


def test_filters_by_meta_and_limit(client: FlaskClient, headers: dict[str, str]) -> None:
    norte = get(client, f"{URL}?store=norte", headers)
    assert norte["overall"]["cases"] == 1 and norte["filters"]["metadata"] == {"store": "norte"}
    assert norte["recovery"]["resolved_detractors"] == 0
    later = get(client, f"{URL}?from=2026-11-24", headers)
    assert later["overall"]["cases"] == 0, "dates select the cases by their response's time"
    region = get(client, f"{URL}?by_meta=region&limit=1", headers)
    assert region["store_key"] == "region" and region["by_store"][0]["value"] is None
    assert "region" not in region["filters"]["metadata"], "by_meta is not a metadata filter"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        pytest.param("from=someday", "from", id="bad date"),
        pytest.param("survey=nope", "survey", id="unknown survey"),
        pytest.param("by_meta=not%20a%20key", "by_meta", id="bad metadata key"),
        pytest.param("limit=0", "limit", id="limit out of range"),
        pytest.param("st%20ore=centro", "st ore", id="unknown parameter"),
    ],
)
def test_a_bad_parameter_answers_422_naming_it(
    client: FlaskClient, headers: dict[str, str], query: str, field: str
) -> None:
    body = get(client, f"{URL}?{query}", headers, 422)
    assert (body["error"], body["field"]) == ("invalid", field)
    assert body["reason"]


def _catalog(lang: str) -> dict[str, str]:
    path = WEB.parent / "locale" / lang / "LC_MESSAGES" / "web-followup.po"
    with path.open("rb") as fh:
        return {str(m.id): str(m.string) for m in read_po(fh) if m.id}


def _gettext(catalog: dict[str, str]) -> Any:
    """Jinja's new-style gettext over a catalog (English when a message is missing): the
    message is markup, the values it formats are escaped."""
    return lambda text, **kw: Markup(catalog.get(text) or text) % kw


def _card(app: Flask, catalog: dict[str, str]) -> str:
    rt: Runtime = app.extensions["npsbot"]
    with app.test_request_context(), rt.db.session() as s:
        data = followup_context(s, Filters(), rt.clock())
        return render_template(CARD, followup=data, _=_gettext(catalog))


def test_the_card_shows_durations_as_staff_read_them(app: Flask, headers: dict[str, str]) -> None:
    html = _card(app, {})
    assert "Follow-up of cases" in html
    assert "12 min" in html and "3 h" in html  # time to take, time to resolve
    assert "taken within 30 min, resolved within 24 h" in html
    assert "1 of 1 detractors whose case was resolved answered a survey again" in html
    assert 'data-value="centro"' in html and "Nobody" in html


@pytest.mark.parametrize(
    ("lang", "title"), [("es", "Seguimiento de casos"), ("pt", "Acompanhamento")]
)
def test_the_card_reads_in_spanish_and_portuguese(
    app: Flask, headers: dict[str, str], lang: str, title: str
) -> None:
    catalog = _catalog(lang)
    with (WEB / "templates" / CARD).open("rb") as fh:
        used = {m if isinstance(m, str) else m[0] for *_, m, _ in babel_extract(fh, ["_"], [], {})}
    assert not used - {k for k, v in catalog.items() if v}, f"untranslated in {lang}"
    html = _card(app, catalog)
    assert title in html and "Follow-up of cases" not in html


def test_an_empty_card_says_so(app: Flask) -> None:
    html = _card(app, {})
    assert "No cases match these filters yet." in html
    assert "No detractor's case is resolved yet." in html

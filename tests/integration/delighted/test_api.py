"""`/delighted/v1/` where storage matters, on both databases: form-encoded bodies as Delighted's
curl examples send them, people found by phone, bounces, the SMS autopilot's members (a JSON
attribute the relational program selects on), Delighted's error body and its 429."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from bot.accounts.apikeys import create_key
from bot.events import RecordingBus
from bot.runtime import Runtime
from bot.storage.models import ContactChannel, Invitation
from bot.web.app import create_app
from tests.conftest import Clock, make_settings
from tests.e2e.channels.rows_sms import settings as twilio_settings

SURVEYS = """
[[survey]]
key = "post-purchase"
name = "After a purchase"
channels = ["sms"]

[[survey]]
key = "autopilot"
name = "Every quarter, by SMS"
kind = "relational"
cadence_days = 90
channels = ["sms"]
[survey.audience]
attributes = { autopilot_sms = "yes" }
"""


@pytest.fixture
def app(database_url: str, clock: Clock, bus: RecordingBus, tmp_path: Path) -> Iterator[Flask]:
    surveys = tmp_path / "surveys.toml"
    surveys.write_text(SURVEYS, encoding="utf-8")
    env = make_settings(
        database_url,
        **twilio_settings("http://127.0.0.1:9"),
        SURVEYS_FILE=str(surveys),
        DELIGHTED_RATE_LIMIT="12",
    )
    app = create_app(env, bus=bus)
    app.extensions["npsbot"].clock = clock
    yield app
    app.extensions["npsbot"].close()


@pytest.fixture
def auth(rt: Runtime) -> dict[str, str]:
    with rt.db.session_for_update() as s:
        key = create_key(s, "crm", rt.clock())
    # curl's `-u KEY:` (the Python client sends base64(KEY) without the colon)
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def call(
    client: FlaskClient, method: str, path: str, auth: dict[str, str], **kw: Any
) -> tuple[int, Any]:
    r = client.open(f"/delighted/v1/{path}", method=method, headers=auth, **kw)
    return r.status_code, r.get_json()


def test_people_bounces_and_the_sms_autopilot(
    client: FlaskClient, auth: dict[str, str], rt: Runtime
) -> None:
    form = {"phone_number": "55 1234 5678", "name": "Ana", "properties[Store]": "Centro"}
    status, ana = call(client, "POST", "people.json", auth, data=form)
    assert status == 200 and ana["phone_number"] == "+525512345678"
    assert ana["properties"] == {"Store": "Centro"} and ana["survey_scheduled_at"] is not None
    status, found = call(client, "GET", "people.json?phone_number=%2B525512345678", auth)
    assert [p["id"] for p in found] == [ana["id"]]

    with rt.db.session_for_update() as s:  # Twilio said the number cannot get SMS
        sms = ContactChannel(contact_id=int(ana["id"]), channel="sms", address=ana["phone_number"])
        s.add(sms)
        sms.unreachable_at = rt.clock()
    status, bounced = call(client, "GET", "bounces", auth)
    assert [(b["person_id"], b["bounced_at"]) for b in bounced] == [
        (ana["id"], int(rt.clock().timestamp()))
    ]

    status, config = call(client, "GET", "autopilot/sms.json", auth)
    assert config["active"] and config["frequency"] == 90 * 86400
    body = {"person_email": "jo@example.com", "properties": {"plan": "gold"}}
    status, added = call(client, "POST", "autopilot/sms/memberships", auth, json=body)
    assert status == 200 and added["person"]["email"] == "jo@example.com"
    call(client, "POST", "autopilot/sms/memberships", auth, json={"person_id": ana["id"]})
    status, members = call(client, "GET", "autopilot/sms/memberships.json?per_page=1", auth)
    assert [m["person"]["id"] for m in members] == [ana["id"]]  # a cursor to the next page
    assert members[0]["next_survey_request"]["survey_scheduled_at"] == ana["survey_scheduled_at"]
    status, removed = call(client, "DELETE", "autopilot/sms/memberships", auth, json=body)
    assert status == 200 and removed["person"]["email"] == "jo@example.com"
    assert call(client, "DELETE", "autopilot/sms/memberships", auth, json=body) == (
        404,
        {"status": 404, "message": "autopilot membership not found"},
    )

    assert call(client, "DELETE", "people/999.json", auth) == (
        404,
        {"status": 404, "message": "person not found"},
    )
    assert call(client, "DELETE", f"people/{ana['id']}/survey_requests/pending", auth) == (
        200,
        {"ok": True},
    )
    with rt.db.session() as s:
        assert s.scalars(select(Invitation.skip_reason)).all() == ["cancelled"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the limiter is in memory
def test_over_the_rate_limit_a_429_says_when_to_retry(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    for _ in range(12):
        assert call(client, "GET", "metrics", auth)[0] == 200
    r = client.get("/delighted/v1/metrics.json", headers=auth)
    assert r.status_code == 429 and r.json == {"status": 429, "message": "Too Many Requests"}
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    bad = client.get("/delighted/v1/metrics", headers={"Authorization": "Basic !!"})
    assert bad.status_code == 401 and bad.json["status"] == 401

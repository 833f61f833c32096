"""`/api/v1/openapi.json` describes the whole API, and real answers validate against it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator

from bot.runtime import Runtime
from bot.web.app import create_app
from bot.web.reports import openapi_document
from tests.conftest import make_settings
from tests.integration.insights.seed import Answer, api_key, seed

DOC = openapi_document()
IGNORED_METHODS = {"HEAD", "OPTIONS"}


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def validate(path: str, method: str, status: int, body: Any) -> None:
    op = DOC["paths"][path][method.lower()]
    response = op["responses"][str(status)]
    if "$ref" in response:
        response = DOC["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    schema = {**response["content"]["application/json"]["schema"], "components": DOC["components"]}
    Draft202012Validator(schema).validate(body)


def test_the_document_is_valid_openapi_3_1_served_without_a_key(client: FlaskClient) -> None:
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200 and r.json == DOC
    assert DOC["openapi"].startswith("3.1")
    # Every schema is valid JSON Schema 2020-12 (what OpenAPI 3.1 uses).
    for schema in DOC["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


def test_every_api_route_is_described_with_its_methods(app: Flask) -> None:
    routes = [r for r in app.url_map.iter_rules() if r.rule.startswith("/api/v1")]
    assert routes
    for rule in routes:
        path = _openapi_path(rule.rule)
        assert path in DOC["paths"], f"{rule.rule} is not in openapi.json"
        for method in set(rule.methods or ()) - IGNORED_METHODS:
            assert method.lower() in DOC["paths"][path], f"{method} {rule.rule} is not described"


def test_every_documented_report_path_exists(app: Flask) -> None:
    rules = {_openapi_path(r.rule) for r in app.url_map.iter_rules()}
    for path, ops in DOC["paths"].items():
        if any(
            "reports" in op.get("tags", []) or "meta" in op.get("tags", []) for op in ops.values()
        ):
            assert path in rules, f"{path} is documented but not served"


@pytest.fixture
def headers(rt: Runtime) -> dict[str, str]:
    now = datetime(2026, 11, 20, 10, tzinfo=UTC)
    seed(
        rt,
        [
            Answer(3, now, channel="sms", comment="lento", themes=["delivery"], case="open"),
            Answer(10, now + timedelta(days=1), store="centro", comment="genial", themes=["staff"]),
            Answer(8, now + timedelta(days=8)),
            Answer(None, now),
        ],
    )
    return api_key(rt)


REPORT_CASES = [
    pytest.param("/api/v1/nps", 200, id="nps"),
    pytest.param("/api/v1/nps?store=centro", 200, id="nps with a metadata filter"),
    pytest.param("/api/v1/nps?from=never", 422, id="nps with a bad filter"),
    pytest.param("/api/v1/nps/trend?interval=day", 200, id="trend by day"),
    pytest.param("/api/v1/nps/trend?interval=week", 200, id="trend by week"),
    pytest.param("/api/v1/nps/breakdown?by=channel", 200, id="breakdown"),
    pytest.param("/api/v1/nps/breakdown", 422, id="breakdown without by"),
    pytest.param("/api/v1/responses?limit=2", 200, id="responses page"),
    pytest.param("/api/v1/themes", 200, id="themes"),
    pytest.param("/api/v1/reports/followup", 200, id="follow-up"),
    pytest.param("/api/v1/reports/followup?by_meta=a%20b", 422, id="follow-up, bad by_meta"),
]


def test_report_answers_validate_against_the_document(
    client: FlaskClient, headers: dict[str, str]
) -> None:
    for case in REPORT_CASES:
        url, status = case.values
        r = client.get(url, headers=headers)
        assert r.status_code == status, (case.id, r.json)
        validate(url.split("?")[0], "GET", status, r.json)


def test_unauthorized_answers_validate(client: FlaskClient) -> None:
    r = client.get("/api/v1/nps")
    validate("/api/v1/nps", "GET", 401, r.json)


def test_business_api_answers_validate_when_it_is_served(
    database_url: str, headers: dict[str, str]
) -> None:
    twilio = {
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": "t" * 32,
        "TWILIO_SMS_FROM": "+15005550006",
    }
    app = create_app(make_settings(database_url, **twilio))
    if "api" not in app.blueprints:
        app.extensions["npsbot"].close()
        pytest.skip("the business API blueprint is not registered in this build")
    client = app.test_client()
    body = {
        "order_id": "A-1",
        "customer": {"name": "Ana", "phone": "+14155550123", "language": "es"},
        "metadata": {"store": "centro"},
        "channels": ["sms"],
    }
    r = client.post("/api/v1/purchases", json=body, headers=headers)
    assert r.status_code == 201, r.json
    validate("/api/v1/purchases", "POST", 201, r.json)
    again = client.post("/api/v1/purchases", json=body, headers=headers)
    validate("/api/v1/purchases", "POST", 200, again.json)
    bad = client.post("/api/v1/purchases", json={"order_id": ""}, headers=headers)
    assert bad.status_code == 422
    validate("/api/v1/purchases", "POST", 422, bad.json)
    inv = client.get(f"/api/v1/invitations/{r.json['invitation_id']}", headers=headers)  # type: ignore[index]
    validate("/api/v1/invitations/{invitation_id}", "GET", 200, inv.json)
    missing = client.get("/api/v1/invitations/999999", headers=headers)
    validate("/api/v1/invitations/{invitation_id}", "GET", 404, missing.json)
    app.extensions["npsbot"].close()

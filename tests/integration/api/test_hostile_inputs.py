"""Client errors are client errors: input the databases cannot take answers 404/422 naming why,
never 503 "storage unavailable" (PostgreSQL's DataError) or 500 (sqlite3's OverflowError)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.integration.api.conftest import Api

NUL = "\x00"
LONE = "\ud800"  # a lone UTF-16 surrogate: valid in JSON text ("\ud800"), not in UTF-8
BEYOND_BIGINT = 2**63


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


GETS = [
    pytest.param(f"/api/v1/invitations/{BEYOND_BIGINT}", 404, None, id="id past BIGINT"),
    pytest.param("/api/v1/invitations/" + "9" * 40, 404, None, id="40-digit id"),
    pytest.param("/api/v1/nps?survey=a%00b", 422, "survey", id="NUL in a survey"),
    pytest.param("/api/v1/nps?store=a%00b", 422, "store", id="NUL in a metadata filter"),
    pytest.param("/api/v1/nps?channel=sms%00", 422, "channel", id="NUL in a channel"),
    pytest.param("/api/v1/nps?survey=" + "s" * 300, 422, "survey", id="over-long survey"),
    pytest.param("/api/v1/nps?store%0A=x", 422, "store\n", id="metadata key with a newline"),
    pytest.param("/api/v1/nps/breakdown?by=store%0A", 422, "by", id="breakdown by key+newline"),
    pytest.param("/api/v1/responses?limit=%C2%B2", 422, "limit", id="a superscript digit"),
    pytest.param("/api/v1/themes?limit=" + "1" * 5000, 422, "limit", id="a 5000-digit limit"),
    pytest.param("/api/v1/invitations/" + "1" * 5000, 404, None, id="a 5000-digit id"),
    pytest.param("/api/v1/nps?to=9999-12-31", 422, "to", id="the day after 9999-12-31"),
    pytest.param("/api/v1/nps?from=0001-01-01T00:00:00%2B01:00", 422, "from", id="before year 1"),
    pytest.param("/api/v1/nps/trend?from=0001-01-02", 422, "from", id="trend from year 1"),
    pytest.param(
        "/api/v1/responses?cursor=" + _cursor(f"2026-01-01T00:00:00+00:00|{BEYOND_BIGINT}"),
        422,
        "cursor",
        id="cursor with an id past BIGINT",
    ),
]


@pytest.mark.parametrize(("url", "status", "field"), GETS)
def test_a_hostile_report_or_lookup_is_a_client_error(
    api: Api, url: str, status: int, field: str | None
) -> None:
    code, body = api.get(url)
    assert code == status, body
    assert body["reason"]
    if field is not None:
        assert body["field"] == field


def _purchase(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"order_id": "A-1", "customer": {"phone": "+14155550123"}}
    body.update(over)
    return body


PURCHASES = [
    pytest.param(_purchase(order_id="A" + NUL), "order_id", id="NUL in order_id"),
    pytest.param(_purchase(order_id="A" + LONE), "order_id", id="lone surrogate in order_id"),
    pytest.param(
        _purchase(customer={"phone": "+14155550123", "name": "Ana" + NUL}),
        "customer.name",
        id="NUL in the customer's name",
    ),
    pytest.param(_purchase(customer={"id": "c" + LONE}), "customer.id", id="surrogate in id"),
    pytest.param(
        _purchase(customer={"telegram_chat_id": "4²"}),
        "customer.telegram_chat_id",
        id="a chat id with a superscript digit",
    ),
    pytest.param(_purchase(survey="post" + NUL), "survey", id="NUL in the survey"),
    pytest.param(_purchase(metadata={"store": "a" + NUL}), "metadata", id="NUL in metadata"),
    pytest.param(_purchase(metadata={"st" + NUL: "a"}), "metadata", id="NUL in a metadata key"),
    pytest.param(_purchase(metadata={"x": [[[[[[[[[[1]]]]]]]]]]}), "metadata", id="deep metadata"),
    pytest.param(
        _purchase(occurred_at="9999-12-31T23:59:59-01:00"), "occurred_at", id="after year 9999"
    ),
    pytest.param(_purchase(occurred_at="0001-01-01T00:00:00Z"), "occurred_at", id="year 1"),
]


@pytest.mark.parametrize(("body", "field"), PURCHASES)
def test_a_purchase_the_database_cannot_store_is_422_naming_the_field(
    api: Api, body: dict[str, Any], field: str
) -> None:
    code, answer = api.purchase(**body)
    assert (code, answer["field"]) == (422, field), answer


def test_nan_in_metadata_is_422(api: Api) -> None:
    raw = '{"order_id": "A-1", "customer": {"phone": "+14155550123"}, "metadata": {"x": NaN}}'
    r = api.client.post(
        "/api/v1/purchases", data=raw, content_type="application/json", headers=api.headers
    )
    assert (r.status_code, r.json and r.json["field"]) == (422, "metadata"), r.json


@pytest.mark.parametrize(
    "order_id",
    [pytest.param("A%00B", id="NUL"), pytest.param("A" * 200, id="longer than any order id")],
)
def test_delivered_for_an_impossible_order_id_is_404(api: Api, order_id: str) -> None:
    r = api.client.post(f"/api/v1/purchases/{order_id}/delivered", json={}, headers=api.headers)
    assert r.status_code == 404, r.json


@pytest.mark.parametrize(
    "when",
    ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-05:00", "2026-13-01T00:00:00Z"],
)
def test_delivered_at_out_of_range_is_422(api: Api, when: str) -> None:
    code, _ = api.purchase(**_purchase(channels=["sms"]))
    assert code == 201
    r = api.client.post(
        "/api/v1/purchases/A-1/delivered", json={"delivered_at": when}, headers=api.headers
    )
    assert (r.status_code, r.json and r.json["field"]) == (422, "delivered_at"), r.json


@pytest.mark.parametrize(
    ("url", "status"),
    [
        pytest.param("/api/v1/purchases", 400, id="purchase"),
        pytest.param("/api/v1/purchases/A-1/delivered", 404, id="delivered: read as no body"),
    ],
)
def test_json_nested_100000_deep_is_a_client_error(api: Api, url: str, status: int) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    r = api.client.post(url, data=deep, content_type="application/json", headers=api.headers)
    assert r.status_code == status, r.json

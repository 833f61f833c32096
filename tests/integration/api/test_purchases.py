"""POST /api/v1/purchases: a purchase in, a scheduled (or skipped, with a reason) survey out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from bot.accounts.apikeys import revoke_key
from bot.runtime import Runtime
from bot.storage.models import ApiKey
from tests.conftest import Clock, at_hours
from tests.integration.api.conftest import Api


def order(order_id: str = "A-1001", **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "order_id": order_id,
        "occurred_at": "2026-11-22T15:00:00Z",
        "customer": {
            "id": "C-42",
            "name": "Ana",
            "phone": "+525512345678",
            "language": "es",
            "timezone": "America/Mexico_City",
        },
        "metadata": {"store": "Polanco", "amount": 129.9},
    }
    body.update(over)
    return body


# A purchase now, at each of HOURS: 120 minutes later, then past the quiet hours (21:00-09:00)
# in Mexico City (UTC-6).
AFTER_THE_DELAY = {
    "15:00": "2026-11-22T17:00:00Z",  # 11:00 in Mexico City
    "23:30": "2026-03-29T01:30:00Z",  # 19:30 there
    "03:00": "2026-11-22T15:00:00Z",  # 05:00Z is 23:00 there: deferred to 09:00
}


@at_hours
def test_a_purchase_schedules_the_survey_after_the_delay(api: Api, clock: Clock) -> None:
    status, body = api.purchase(**order(occurred_at=f"{clock():%Y-%m-%dT%H:%M:%SZ}"))
    assert status == 201
    assert body["status"] == "scheduled"
    assert body["due_at"] == AFTER_THE_DELAY[f"{clock():%H:%M}"]
    assert body["telegram_link"] is None and body["reason"] is None


def test_the_same_order_again_returns_the_same_invitation(api: Api) -> None:
    _, first = api.purchase(**order())
    status, again = api.purchase(**order())
    assert (status, again["invitation_id"]) == (200, first["invitation_id"])


def test_the_same_order_with_another_body_is_a_conflict(api: Api) -> None:
    api.purchase(**order())
    status, body = api.purchase(**order(delay_minutes=5))
    assert (status, body["error"], body["field"]) == (409, "conflict", "order_id")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        pytest.param({"customer": {"phone": "12"}}, "customer.phone", id="bad-phone"),
        pytest.param(
            {"customer": {"phone": "+525512345678", "timezone": "Mars/Olympus"}},
            "customer.timezone",
            id="bad-timezone",
        ),
        pytest.param(
            {"customer": {"phone": "+525512345678", "language": "fr"}},
            "customer.language",
            id="bad-language",
        ),
        pytest.param({"survey": "nope"}, "survey", id="unknown-survey"),
        pytest.param({"channels": ["telegram"]}, "channels[0]", id="channel-not-configured"),
        pytest.param({"channels": []}, "channels", id="empty-channels"),
        pytest.param({"order_id": ""}, "order_id", id="missing-order"),
        pytest.param({"customer": None}, "customer", id="missing-customer"),
        pytest.param({"customer": {"name": "Ana"}}, "customer", id="customer-without-address"),
        pytest.param({"delay_minutes": -5}, "delay_minutes", id="negative-delay"),
        pytest.param({"occurred_at": "2026-11-22T15:00:00"}, "occurred_at", id="naive-time"),
        pytest.param({"occurred_at": "yesterday"}, "occurred_at", id="not-a-time"),
        pytest.param({"metadata": ["x"]}, "metadata", id="metadata-not-object"),
        pytest.param({"coupon": "X"}, "coupon", id="unknown-field"),
    ],
)
def test_invalid_purchases_are_422_naming_the_field_and_write_nothing(
    api: Api, change: dict[str, Any], field: str
) -> None:
    status, body = api.purchase(**order(**change))
    assert (status, body["error"], body["field"]) == (422, "invalid", field)
    assert body["reason"]
    status, _ = api.get("/api/v1/invitations/1")
    assert status == 404


def test_a_body_that_is_not_json_is_400(client: FlaskClient, key: str) -> None:
    r = client.post(
        "/api/v1/purchases",
        data="order=1",
        headers={"Authorization": f"Bearer {key}"},
        content_type="application/x-www-form-urlencoded",
    )
    assert r.status_code == 400 and r.json is not None and r.json["error"] == "bad_request"


@pytest.mark.parametrize(
    "auth",
    [
        pytest.param(None, id="missing"),
        pytest.param("Bearer nps_wrong", id="wrong"),
        pytest.param("Basic abc", id="other-scheme"),
    ],
)
def test_without_a_valid_key_the_api_answers_401(client: FlaskClient, auth: str | None) -> None:
    headers = {"Authorization": auth} if auth else {}
    r = client.post("/api/v1/purchases", json=order(), headers=headers)
    assert r.status_code == 401 and r.json is not None and r.json["error"] == "unauthorized"


def test_a_revoked_key_stops_working(client: FlaskClient, rt: Runtime, key: str) -> None:
    with rt.db.session() as s:
        revoke_key(s, "shop", rt.clock())
    r = client.post("/api/v1/purchases", json=order(), headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 401


def test_a_keys_last_use_is_recorded_at_most_once_a_minute(
    api: Api, rt: Runtime, clock: Clock
) -> None:
    def last_used() -> datetime | None:
        with rt.db.session() as s:
            return s.scalar(select(ApiKey.last_used_at).where(ApiKey.name == "shop"))

    first = clock.now
    api.get("/api/v1/invitations/1")
    assert last_used() == first
    clock.advance(seconds=30)
    api.get("/api/v1/invitations/1")
    assert last_used() == first, "a read within the minute writes nothing"
    clock.advance(seconds=31)
    api.get("/api/v1/invitations/1")
    assert last_used() == clock.now


def test_quiet_hours_defer_the_survey_to_the_morning_in_the_customers_zone(api: Api) -> None:
    # 04:30 UTC is 22:30 in Mexico City: inside the survey's 22:00-08:00 quiet hours.
    status, body = api.purchase(**order(survey="support", occurred_at="2026-11-23T04:30:00Z"))
    assert status == 201
    assert body["due_at"] == "2026-11-23T14:00:00Z"  # 08:00 in Mexico City


def test_without_a_time_zone_the_phone_numbers_country_decides(api: Api) -> None:
    customer = {"id": "C-7", "phone": "+5511987654321", "language": "pt"}  # São Paulo, UTC-3
    status, body = api.purchase(
        **order(survey="support", occurred_at="2026-11-23T01:30:00Z", customer=customer)
    )
    assert status == 201
    assert body["due_at"] == "2026-11-23T11:00:00Z"  # 22:30 local -> 08:00 local


@pytest.mark.parametrize(
    ("first", "second", "reason"),
    [
        pytest.param({}, {"order_id": "A-2"}, "open_invitation", id="one-open-invitation"),
    ],
)
def test_rules_skip_with_a_reason(
    api: Api, first: dict[str, Any], second: dict[str, Any], reason: str
) -> None:
    api.purchase(**order(**first))
    status, body = api.purchase(**order(**second))
    assert (status, body["status"], body["reason"]) == (201, "skipped", reason)


def test_the_resurvey_window_skips_a_recently_surveyed_customer(
    api: Api, rt: Runtime, clock: Clock
) -> None:
    from bot.storage.models import Invitation

    _, body = api.purchase(**order())
    with rt.db.session() as s:
        inv = s.get(Invitation, body["invitation_id"])
        assert inv is not None
        inv.state, inv.sent_at = "completed", clock()
    clock.advance(days=10)
    _status, body = api.purchase(**order("A-2", occurred_at=clock().isoformat()))
    assert (body["status"], body["reason"]) == ("skipped", "resurvey_window")
    clock.advance(days=21)
    _status, body = api.purchase(**order("A-3", occurred_at=clock().isoformat()))
    assert body["status"] == "scheduled"


def test_a_customer_opted_out_of_every_channel_is_skipped(api: Api, rt: Runtime) -> None:
    from bot.storage.models import Contact
    from bot.survey.contacts import ensure_channel

    with rt.db.session() as s:
        ana = Contact(
            external_id="C-42", phone="+525512345678", language="es", created_at=rt.clock()
        )
        s.add(ana)
        s.flush()
        for channel in ("sms", "whatsapp"):
            ensure_channel(s, ana, channel, "+525512345678").opted_out_at = rt.clock()
    _status, body = api.purchase(**order())
    assert (body["status"], body["reason"]) == ("skipped", "opted_out")


def test_an_invitation_can_be_looked_up(api: Api) -> None:
    _, created = api.purchase(**order())
    status, body = api.get(f"/api/v1/invitations/{created['invitation_id']}")
    assert status == 200
    assert body["order_id"] == "A-1001" and body["survey"] == "post-purchase"
    assert body["status"] == "scheduled" and body["response"] is None
    assert api.get("/api/v1/invitations/999")[0] == 404


@pytest.mark.parametrize(
    ("delivered", "due"),
    [
        ("2026-11-24T16:00:00Z", "2026-11-24T18:00:00Z"),  # 12:00 in Mexico City
        ("2026-11-25T01:30:00Z", "2026-11-25T15:00:00Z"),  # due at 21:30 there: 09:00
    ],
)
def test_a_delivery_moves_the_delay_to_count_from_the_delivery(
    api: Api, delivered: str, due: str
) -> None:
    api.purchase(**order())
    r = api.client.post(
        "/api/v1/purchases/A-1001/delivered",
        json={"delivered_at": delivered},
        headers=api.headers,
    )
    assert r.status_code == 200 and r.json is not None
    assert r.json["due_at"] == due
    missing = api.client.post("/api/v1/purchases/nope/delivered", json={}, headers=api.headers)
    assert missing.status_code == 404


def test_timestamps_are_utc_rfc3339(api: Api) -> None:
    _, body = api.purchase(**order())
    due = datetime.fromisoformat(str(body["due_at"]).replace("Z", "+00:00"))
    assert due.tzinfo is not None and due.utcoffset() == UTC.utcoffset(None)

"""A purchase whose customer is reachable only on a channel this server has no settings for."""

from __future__ import annotations

from tests.integration.api.conftest import Api


def test_a_telegram_only_customer_without_telegram_names_channels_not_the_phone(api: Api) -> None:
    # SMS and WhatsApp are configured here, Telegram is not.
    status, body = api.purchase(
        order_id="T-1",
        occurred_at="2026-11-22T15:00:00Z",
        customer={"id": "C-7", "telegram_chat_id": "123456789"},
    )
    assert (status, body["error"], body["field"]) == (422, "invalid", "channels")
    assert body["reason"] == "Telegram is not configured"
    status, _ = api.get("/api/v1/invitations/1")
    assert status == 404


def test_a_customer_known_only_by_id_is_still_asked_for_a_phone(api: Api) -> None:
    status, body = api.purchase(
        order_id="T-2", occurred_at="2026-11-22T15:00:00Z", customer={"id": "C-8"}
    )
    assert (status, body["field"]) == (422, "customer.phone")

"""Tiendanube rows. The event is the webhook documentation's shape ({store_id, event, id}:
https://tiendanube.github.io/api-documentation/resources/webhook); the order the fake store API
answers is the order documentation's GET /orders/{id} example
(https://tiendanube.github.io/api-documentation/resources/order) with the contact_* fields its
properties table lists."""

from __future__ import annotations

import hashlib
import hmac

from tests.integration.shops.cases import ShopCase, ShopRows

SECRET = "tn-app-secret-0a1b2c3d"  # test-only
TOKEN = "61d2b2a5f2b8c3f3ad2c77a1e1f0c2b3d4e5f6a7"  # test-only
ORDER = "tiendanube:123:450789469"
EVENT = "tiendanube/order_fulfilled.json"
STORE_ORDER = "tiendanube/order.json"
ARGENTINA = {"contact_phone": "+54 9 11 2345-6789", "language": "es"}


def sign(secret: str, body: bytes) -> dict[str, str]:
    # Hex, not base64: PHP's hash_hmac('sha256', $data, APP_SECRET) in Tiendanube's docs.
    return {
        "x-linkedstore-hmac-sha256": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    }


TIENDANUBE = ShopRows(
    platform="tiendanube",
    key="nube",
    secret=SECRET,
    headers={},
    sign=sign,
    store_id="123",
    access_token=TOKEN,
    rows=[
        ShopCase(
            "tiendanube-fulfilled-event-reads-the-order-and-registers",
            EVENT,
            store_order=STORE_ORDER,
            store_overrides=ARGENTINA,
            reply={"status": "registered", "order_id": ORDER},
            order_id=ORDER,
            phone="+5491123456789",
            name="John Doe",
            language="es",
            metadata={
                "platform": "tiendanube",
                "order_number": "101",
                "store": "store",
                "total": "58.00",
                "currency": "USD",
                "items": [{"name": "Example Product", "quantity": 2}],
            },
            event_state="registered",
            duplicate=True,
            both_databases=True,
        ),
        ShopCase(
            "tiendanube-store-api-down-503-then-the-retry-registers",
            EVENT,
            store_order=STORE_ORDER,
            store_overrides=ARGENTINA,
            store_status=503,
            status=503,
            reply={"error": "store_unavailable"},
            order_id=ORDER,
            phone="+5491123456789",
            event_state="registered",
            retried=True,
            both_databases=True,
        ),
        ShopCase(
            "tiendanube-order-missing-in-the-store-is-skipped",
            EVENT,
            store_order=STORE_ORDER,
            store_status=404,
            reply={"status": "skipped"},
            reason_contains="no order 450789469",
            event_state="skipped",
        ),
        ShopCase(
            "tiendanube-another-store-is-ignored",
            EVENT,
            overrides={"store_id": 999},
            reply={"status": "ignored"},
        ),
        ShopCase(
            "tiendanube-created-event-is-ignored",
            EVENT,
            overrides={"event": "order/created"},
            reply={"status": "ignored"},
        ),
        ShopCase(
            "tiendanube-base64-signature-is-wrong-401",
            EVENT,
            signing="invalid",
            status=401,
        ),
        ShopCase("tiendanube-missing-signature-401", EVENT, signing="missing", status=401),
    ],
)

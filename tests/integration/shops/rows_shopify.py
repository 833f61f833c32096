"""Shopify rows. The payload is Shopify's documented orders/fulfilled sample (the one its admin's
"Send test notification" posts; https://shopify.dev/docs/api/webhooks?reference=toml#list-of-topics-orders/fulfilled):
its phones are placeholders ("555-555-SHIP"), so rows that register give the order a phone."""

from __future__ import annotations

import base64
import hashlib
import hmac

from tests.integration.shops.cases import ShopCase, ShopRows

SECRET = "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"  # test-only
DOMAIN = "jsmith.myshopify.com"
ORDER = f"shopify:{DOMAIN}:820982911946154508"
PAYLOAD = "shopify/orders_fulfilled.json"


def sign(secret: str, body: bytes) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return {"X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode()}


SHOPIFY = ShopRows(
    platform="shopify",
    key="acme",
    secret=SECRET,
    headers={
        "X-Shopify-Topic": "orders/fulfilled",
        "X-Shopify-Shop-Domain": DOMAIN,
        "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        "X-Shopify-API-Version": "2025-10",
    },
    sign=sign,
    rows=[
        ShopCase(
            "shopify-fulfilled-order-registers-its-survey-once",
            PAYLOAD,
            overrides={"phone": "+52 1 55 1234 5678"},
            reply={"status": "registered", "order_id": ORDER, "invitation_status": "scheduled"},
            order_id=ORDER,
            phone="+525512345678",
            name="John Smith",
            language="en",
            metadata={
                "shop": "acme",
                "platform": "shopify",
                "order_number": "#9999",
                "store": "web",
                "total": "403.00",
                "currency": "USD",
                "items": [
                    {"name": "IPod Nano - 8GB", "quantity": 1, "sku": "IPOD2008PINK"},
                    {"name": "IPod Nano - 8GB", "quantity": 1, "sku": "IPOD2008PINK"},
                ],
            },
            event_state="registered",
            duplicate=True,
            both_databases=True,
        ),
        ShopCase(
            "shopify-sample-without-a-real-phone-is-skipped-with-the-api-reason",
            PAYLOAD,
            reply={"status": "skipped", "order_id": ORDER},
            reason_contains="customer: needs a phone",
            event_state="skipped",
            both_databases=True,
        ),
        ShopCase(
            "shopify-paid-is-ignored-when-not-chosen",
            PAYLOAD,
            headers={"X-Shopify-Topic": "orders/paid"},
            reply={"status": "ignored"},
            reason_contains="orders/paid",
        ),
        ShopCase(
            "shopify-paid-registers-when-chosen",
            PAYLOAD,
            headers={"X-Shopify-Topic": "orders/paid"},
            topics=("orders/fulfilled", "orders/paid"),
            overrides={"phone": "+525512345678"},
            reply={"status": "registered", "order_id": ORDER},
            order_id=ORDER,
            phone="+525512345678",
            event_state="registered",
        ),
        ShopCase(
            "shopify-unknown-topic-is-ignored",
            PAYLOAD,
            headers={"X-Shopify-Topic": "products/create"},
            reply={"status": "ignored"},
        ),
        ShopCase(
            "shopify-wrong-signature-401",
            PAYLOAD,
            signing="invalid",
            status=401,
            reply={"error": "unauthorized"},
            reason_contains="does not match",
        ),
        ShopCase(
            "shopify-missing-signature-401",
            PAYLOAD,
            signing="missing",
            status=401,
            reason_contains="missing X-Shopify-Hmac-Sha256",
        ),
        ShopCase(
            "shopify-signed-malformed-json-400",
            PAYLOAD,
            body=b'{"id": 820982911946154508, "line_items": [',
            status=400,
            reply={"error": "bad_request"},
            reason_contains="not JSON",
        ),
    ],
)

"""WooCommerce rows. The order is the REST API documentation's order example
(https://woocommerce.github.io/woocommerce-rest-api-docs/#retrieve-an-order), status completed,
as a webhook posts it; the ping is the form body WooCommerce posts when a webhook is saved."""

from __future__ import annotations

import base64
import hashlib
import hmac

from tests.integration.shops.cases import ShopCase, ShopRows

SECRET = "wc-0a1b2c3d4e5f6071"  # test-only
ORDER = "woocommerce:shop.example.com:727"
PAYLOAD = "woocommerce/order_completed.json"
BILLING = {
    "first_name": "Juana",
    "last_name": "Pérez",
    "country": "MX",
    "email": "juana@example.com",
    "phone": "55 1234 5678",
}


def sign(secret: str, body: bytes) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return {"X-WC-Webhook-Signature": base64.b64encode(digest).decode()}


WOOCOMMERCE = ShopRows(
    platform="woocommerce",
    key="tienda",
    secret=SECRET,
    headers={
        "X-WC-Webhook-Source": "https://shop.example.com/",
        "X-WC-Webhook-Topic": "order.updated",
        "X-WC-Webhook-Resource": "order",
        "X-WC-Webhook-Event": "updated",
        "X-WC-Webhook-ID": "12",
        "X-WC-Webhook-Delivery-ID": "3f1c6e0a9b2d4e5f8a7b6c5d4e3f2a1b",
    },
    sign=sign,
    rows=[
        ShopCase(
            "woocommerce-completed-order-registers",
            PAYLOAD,
            overrides={"billing": BILLING},
            reply={"status": "registered", "order_id": ORDER},
            order_id=ORDER,
            phone="+525512345678",
            name="Juana Pérez",
            metadata={
                "platform": "woocommerce",
                "order_number": "727",
                "total": "29.35",
                "currency": "USD",
                "items": [
                    {"name": "Woo Single #1", "quantity": 2},
                    {
                        "name": "Ship Your Idea &ndash; Color: Black, Size: M Test",
                        "quantity": 1,
                        "sku": "Bar3",
                    },
                ],
            },
            event_state="registered",
            duplicate=True,
            both_databases=True,
        ),
        ShopCase(
            "woocommerce-creation-ping-200-unsigned",
            "woocommerce/ping.form",
            signing="missing",
            content_type="application/x-www-form-urlencoded",
            reply={"status": "pong"},
        ),
        ShopCase(
            "woocommerce-processing-order-is-ignored",
            PAYLOAD,
            overrides={"status": "processing", "billing": BILLING},
            reply={"status": "ignored"},
            reason_contains="processing",
        ),
        ShopCase(
            "woocommerce-wrong-signature-401",
            PAYLOAD,
            signing="invalid",
            status=401,
            reason_contains="X-WC-Webhook-Signature",
        ),
    ],
)

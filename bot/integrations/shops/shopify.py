"""Shopify: `orders/fulfilled` (and `orders/paid` when chosen) → a purchase.

Signature: `X-Shopify-Hmac-Sha256`, base64 HMAC-SHA256 of the raw body with the app's client
secret (https://shopify.dev/docs/apps/build/webhooks/verify-deliveries); `X-Shopify-Webhook-Id`
names the delivery (the same id on a retry); `X-Shopify-Topic`, `X-Shopify-Shop-Domain`.
The order object: https://shopify.dev/docs/api/admin-rest/latest/resources/order
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from bot.integrations.shops.common import (
    Delivery,
    Event,
    Malformed,
    Platform,
    ShopConfig,
    clip,
    first_phone,
    items,
    language,
    purchase_input,
    signed,
)

HEADER = "X-Shopify-Hmac-Sha256"


def verify(secret: str, d: Delivery) -> bool:
    return signed(secret, d.body, d.header(HEADER), "base64")


def read(shop: ShopConfig, d: Delivery) -> Event:
    topic = d.header("X-Shopify-Topic") or ""
    if topic not in shop.topics:
        return Event(
            "ignore", topic, reason=f"topic {topic or '(none)'!r} is not one this shop triggers on"
        )
    try:
        order = json.loads(d.body)
    except ValueError as exc:
        raise Malformed(f"the body is not JSON: {exc}") from None
    if not isinstance(order, dict) or not isinstance(order.get("id"), int | str):
        raise Malformed("the body is not a Shopify order: no id")
    delivery = d.header("X-Shopify-Webhook-Id") or d.header("X-Shopify-Event-Id")
    domain = d.header("X-Shopify-Shop-Domain") or shop.key
    return Event(
        "order",
        topic,
        delivery_id=delivery or f"{topic}:{order['id']}",
        order=order,
        order_ref=f"{domain}:{order['id']}",
        order_id=str(order["id"]),
    )


def purchase(shop: ShopConfig, order: Mapping[str, Any], country: str) -> dict[str, Any]:
    customer = order.get("customer") if isinstance(order.get("customer"), dict) else {}
    assert isinstance(customer, dict)
    shipping = (
        order.get("shipping_address") if isinstance(order.get("shipping_address"), dict) else {}
    )
    billing = order.get("billing_address") if isinstance(order.get("billing_address"), dict) else {}
    assert isinstance(shipping, dict) and isinstance(billing, dict)
    # Where the phone is, in order of trust: the order's, the customer's, the addresses'.
    home = shipping.get("country_code") or billing.get("country_code") or country
    phone = first_phone(
        [
            (order.get("phone"), home),
            (customer.get("phone"), home),
            (shipping.get("phone"), shipping.get("country_code") or home),
            (billing.get("phone"), billing.get("country_code") or home),
        ]
    )
    named = " ".join(str(p) for p in (customer.get("first_name"), customer.get("last_name")) if p)
    name = named or shipping.get("name") or billing.get("name")
    return purchase_input(
        shop.survey,
        {
            "phone": phone,
            "name": clip(name, 200),
            "language": language(order.get("customer_locale")),
        },
        {
            "shop": shop.key,
            "platform": "shopify",
            "order_number": clip(order.get("name") or order.get("order_number")),
            "store": clip(order.get("source_name")),
            "location": clip(order.get("location_id")),
            "items": items(order.get("line_items"), "name"),
            "total": clip(order.get("total_price")),
            "currency": clip(order.get("currency")),
        },
    )


PLATFORM = Platform(
    name="shopify",
    label="Shopify",
    signature_header=HEADER,
    topics=("orders/fulfilled", "orders/paid"),
    default_topics=("orders/fulfilled",),
    verify=verify,
    read=read,
    purchase=purchase,
)

"""WooCommerce: an order updated to `completed` → a purchase.

Signature: `X-WC-Webhook-Signature`, base64 HMAC-SHA256 of the raw body with the webhook's
secret; `X-WC-Webhook-Topic` (`order.updated`), `X-WC-Webhook-Delivery-ID`,
`X-WC-Webhook-Source` (the site's URL). On creation WooCommerce pings the URL with a
form-encoded `webhook_id=<id>` and no signature: it must be answered 200 or the webhook is not
saved. https://woocommerce.com/document/webhooks/ ,
https://woocommerce.github.io/woocommerce-rest-api-docs/#order-properties
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

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

HEADER = "X-WC-Webhook-Signature"
PING = re.compile(rb"webhook_id=\d+")
COMPLETED = "completed"  # the order status after which the survey makes sense


def is_ping(d: Delivery) -> bool:
    # Whatever its Content-Type (WordPress sets it): no order body can look like this.
    return bool(PING.fullmatch(d.body.strip()))


def verify(secret: str, d: Delivery) -> bool:
    return signed(secret, d.body, d.header(HEADER), "base64")


def read(shop: ShopConfig, d: Delivery) -> Event:
    topic = d.header("X-WC-Webhook-Topic") or ""
    if topic not in shop.topics:
        return Event(
            "ignore", topic, reason=f"topic {topic or '(none)'!r} is not one this shop triggers on"
        )
    try:
        order = json.loads(d.body)
    except ValueError as exc:
        raise Malformed(f"the body is not JSON: {exc}") from None
    if not isinstance(order, dict) or not isinstance(order.get("id"), int | str):
        raise Malformed("the body is not a WooCommerce order: no id")
    if order.get("status") != COMPLETED:
        return Event(
            "ignore", topic, reason=f"order status {order.get('status')!r} is not completed"
        )
    site = urlsplit(d.header("X-WC-Webhook-Source") or "").netloc or shop.key
    delivery = d.header("X-WC-Webhook-Delivery-ID")
    return Event(
        "order",
        topic,
        delivery_id=delivery or f"{topic}:{order['id']}:{order.get('date_modified_gmt')}",
        order=order,
        order_ref=f"{site}:{order['id']}",
        order_id=str(order["id"]),
    )


def _locale(order: Mapping[str, Any]) -> str | None:
    """A multilingual site's order language (WPML, Polylang keep it in the order's meta)."""
    meta = order.get("meta_data")
    for row in meta if isinstance(meta, list) else []:
        if isinstance(row, dict) and row.get("key") in ("wpml_language", "pll_language"):
            return language(row.get("value"))
    return None


def purchase(shop: ShopConfig, order: Mapping[str, Any], country: str) -> dict[str, Any]:
    billing = order.get("billing") if isinstance(order.get("billing"), dict) else {}
    shipping = order.get("shipping") if isinstance(order.get("shipping"), dict) else {}
    assert isinstance(billing, dict) and isinstance(shipping, dict)
    phone = first_phone(
        [
            (billing.get("phone"), billing.get("country") or country),
            (shipping.get("phone"), shipping.get("country") or billing.get("country") or country),
        ]
    )
    name = " ".join(str(p) for p in (billing.get("first_name"), billing.get("last_name")) if p)
    return purchase_input(
        shop.survey,
        {"phone": phone, "name": clip(name, 200), "language": _locale(order)},
        {
            "shop": shop.key,
            "platform": "woocommerce",
            "order_number": clip(order.get("number")),
            "store": clip(order.get("created_via")),
            "items": items(order.get("line_items"), "name"),
            "total": clip(order.get("total")),
            "currency": clip(order.get("currency")),
        },
    )


PLATFORM = Platform(
    name="woocommerce",
    label="WooCommerce",
    signature_header=HEADER,
    topics=("order.updated", "order.created"),
    default_topics=("order.updated",),
    verify=verify,
    read=read,
    purchase=purchase,
    is_ping=is_ping,
)

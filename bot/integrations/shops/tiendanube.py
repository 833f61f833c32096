"""Tiendanube / Nuvemshop: `order/fulfilled` (and `order/paid` when chosen) → a purchase.

Signature: `x-linkedstore-hmac-sha256`, the HEX HMAC-SHA256 of the raw body with the app's
secret (PHP's `hash_hmac('sha256', $data, APP_SECRET)` in
https://tiendanube.github.io/api-documentation/resources/webhook). The event carries only
`store_id`, `event` and the order's `id`: the order is read with the store's API,
`GET {api}/v1/{store_id}/orders/{id}` (`Authentication: bearer <token>`, a `User-Agent` naming
the app: https://tiendanube.github.io/api-documentation/intro). Tiendanube retries a delivery not
answered 200 for three days, so a store API that is down is answered 503.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from bot.integrations.shops.common import (
    Delivery,
    Event,
    Malformed,
    NotFound,
    Platform,
    ShopConfig,
    StoreApi,
    Unavailable,
    clip,
    first_phone,
    items,
    language,
    purchase_input,
    signed,
)

HEADER = "x-linkedstore-hmac-sha256"


def verify(secret: str, d: Delivery) -> bool:
    return signed(secret, d.body, d.header(HEADER), "hex")


def read(shop: ShopConfig, d: Delivery) -> Event:
    try:
        event = json.loads(d.body)
    except ValueError as exc:
        raise Malformed(f"the body is not JSON: {exc}") from None
    if not isinstance(event, dict) or not isinstance(event.get("event"), str):
        raise Malformed("the body is not a Tiendanube event: no event")
    topic = event["event"]
    if topic not in shop.topics:
        return Event("ignore", topic, reason=f"event {topic!r} is not one this shop triggers on")
    order_id, store = event.get("id"), event.get("store_id")
    if not isinstance(order_id, int | str) or not isinstance(store, int | str):
        raise Malformed("a Tiendanube order event needs store_id and id")
    if shop.store_id is not None and str(store) != shop.store_id:
        return Event("ignore", topic, reason=f"store {store} is not this shop's store")
    # Tiendanube sends no delivery id; a redelivery repeats the event and the order id.
    return Event(
        "order",
        topic,
        delivery_id=f"{topic}:{store}:{order_id}",
        order_ref=f"{store}:{order_id}",
        order_id=str(order_id),
    )


def fetch(shop: ShopConfig, event: Event, api: StoreApi) -> Mapping[str, Any]:
    """The order, from the store's API. Never inside a database transaction."""
    if not shop.store_id or not shop.access_token:
        raise Unavailable("the shop has no store id or access token (npsbot shops add)")
    url = f"{api.base_url.rstrip('/')}/v1/{shop.store_id}/orders/{event.order_id}"
    request = urllib.request.Request(
        url,
        headers={
            "Authentication": f"bearer {shop.access_token}",
            "User-Agent": api.user_agent,
            "Accept": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=api.timeout) as answer:
            order = json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        exc.close()  # its socket, else it stays open until garbage collection
        if exc.code == 404:
            raise NotFound(f"the store has no order {event.order_id}") from None
        raise Unavailable(f"the store API answered {exc.code}") from None
    except (OSError, ValueError) as exc:  # refused, timed out, not JSON
        raise Unavailable(f"the store API could not be read: {type(exc).__name__}") from None
    if not isinstance(order, dict):
        raise Unavailable("the store API answered something that is not an order")
    return order


def purchase(shop: ShopConfig, order: Mapping[str, Any], country: str) -> dict[str, Any]:
    customer = order.get("customer") if isinstance(order.get("customer"), dict) else {}
    shipping = (
        order.get("shipping_address") if isinstance(order.get("shipping_address"), dict) else {}
    )
    assert isinstance(customer, dict) and isinstance(shipping, dict)
    home = order.get("billing_country") or shipping.get("country") or country
    phone = first_phone(
        [
            (order.get("contact_phone"), home),
            (customer.get("phone"), home),
            (order.get("billing_phone"), home),
            (shipping.get("phone"), shipping.get("country") or home),
        ]
    )
    return purchase_input(
        shop.survey,
        {
            "phone": phone,
            "name": clip(order.get("contact_name") or customer.get("name"), 200),
            "language": language(order.get("language")),
        },
        {
            "shop": shop.key,
            "platform": "tiendanube",
            "order_number": clip(order.get("number")),
            "store": clip(order.get("storefront")),
            "location": clip(order.get("shipping_store_branch_name")),
            "items": items(order.get("products"), "name"),
            "total": clip(order.get("total") or order.get("price")),
            "currency": clip(order.get("currency")),
        },
    )


PLATFORM = Platform(
    name="tiendanube",
    label="Tiendanube / Nuvemshop",
    signature_header=HEADER,
    topics=("order/fulfilled", "order/paid"),
    default_topics=("order/fulfilled",),
    verify=verify,
    read=read,
    purchase=purchase,
    fetch=fetch,
    needs_store=True,
)

"""A shop's order webhook, through one flow: verify, read, store, (fetch,) register.

1. The shop named in the URL, its platform's ping (WooCommerce's, unsigned) answered 200.
2. The signature over the raw body: missing or wrong → 401, nothing stored.
3. The event: malformed → 400 naming why; a topic the shop does not trigger on → 200, ignored.
4. Persist before answering: a `shop_events` row (the shop's delivery id, unique) is written
   first; a redelivery of a finished one → 200 `duplicate`, nothing new.
5. Tiendanube's order is read from the store's API AFTER that commit, outside any transaction;
   the API down → 503 and the row stays `received`, so the shop's retry reads it again (the
   event is stored, not the order: no personal data waits in npsbot for a retry).
6. The order becomes the purchase `POST /api/v1/purchases` takes and goes through the same
   `parse_purchase` + `register_purchase`: idempotent on "<platform>:<store>:<order id>". What
   the API refuses with 422 (no phone, no reachable channel) is answered 200 `skipped` with the
   API's own reason (a shop cannot fix an order by retrying; Shopify would drop the webhook after
   repeated failures) and the reason is kept on the event row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.integrations.shops.common import (
    Delivery,
    Event,
    Malformed,
    NotFound,
    ShopConfig,
    StoreApi,
    Unavailable,
)
from bot.integrations.shops.declared import declared_shops
from bot.integrations.shops.registry import KEY, PLATFORMS
from bot.runtime import Runtime
from bot.storage.models import Shop, ShopEvent
from bot.survey.fields import Invalid
from bot.survey.purchases import MAX_ORDER_ID, Conflict, parse_purchase, register_purchase

RECEIVED, REGISTERED, SKIPPED, KNOWN = "received", "registered", "skipped", "known"


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any]


def _error(status: int, error: str, reason: str) -> Reply:
    return Reply(status, {"error": error, "reason": reason})


def shop_config(row: Shop) -> ShopConfig:
    return ShopConfig(
        key=row.key,
        platform=row.platform,
        secret=row.secret,
        survey=row.survey,
        topics=tuple(row.topics or ()),
        store_id=row.store_id,
        access_token=row.access_token,
    )


def find_shop(rt: Runtime, key: str) -> ShopConfig | None:
    """The shop added with `npsbot shops add`, else the one SHOPS_FILE declares."""
    with rt.db.session() as s:
        row = s.scalar(select(Shop).where(Shop.key == key))
        if row is not None:
            return shop_config(row)
    return declared_shops(rt.settings).get(key)


def handle(rt: Runtime, platform_name: str, key: str, d: Delivery) -> Reply:
    platform = PLATFORMS.get(platform_name)
    # No shop can have a key outside KEY: answered without asking the database.
    shop = find_shop(rt, key) if platform is not None and KEY.fullmatch(key) else None
    if platform is None or shop is None or shop.platform != platform.name:
        return _error(404, "not_found", f"no {platform_name[:32]} shop {key[:64]!r}")
    if platform.is_ping(d):
        return Reply(200, {"status": "pong"})  # WooCommerce saves the webhook on a 200
    if d.header(platform.signature_header) is None:
        return _error(401, "unauthorized", f"missing {platform.signature_header}")
    if not platform.verify(shop.secret, d):
        return _error(
            401, "unauthorized", f"{platform.signature_header} does not match the body and secret"
        )
    try:
        event = platform.read(shop, d)
    except Malformed as exc:
        return _error(400, "bad_request", str(exc))
    if event.action != "order":
        return Reply(200, {"status": "ignored", "reason": event.reason})
    order_id = f"{platform.name}:{event.order_ref}"[:MAX_ORDER_ID]
    earlier = _receive(rt, shop, event, order_id)
    if earlier is not None:
        return Reply(200, {"status": "duplicate", "state": earlier, "order_id": order_id})
    order = event.order
    if order is None and platform.fetch is not None:
        api = StoreApi(
            rt.settings.tiendanube_api_url,
            rt.settings.tiendanube_user_agent,
            rt.settings.http_timeout,
        )
        try:
            order = platform.fetch(shop, event, api)
        except Unavailable as exc:
            return _error(503, "store_unavailable", f"{exc}; retry later")
        except NotFound as exc:
            return _finish(rt, shop, event, order_id, SKIPPED, str(exc))
    if order is None:  # a platform without `fetch` always reads the order from the body
        return _finish(rt, shop, event, order_id, SKIPPED, "the event carries no order")
    data = platform.purchase(shop, order, rt.settings.default_country)
    data["order_id"] = order_id
    try:
        outcome = register_purchase(rt, parse_purchase(data, country=rt.settings.default_country))
    except Invalid as exc:
        return _finish(rt, shop, event, order_id, SKIPPED, f"{exc.field}: {exc.reason}")
    except Conflict:
        # Another event of the same order (paid, then fulfilled) with other details: the
        # first one made the survey.
        return _finish(rt, shop, event, order_id, KNOWN, "the order was registered before")
    inv = outcome.invitation
    return _finish(rt, shop, event, order_id, REGISTERED, inv.skip_reason, inv.id, str(inv.state))


def _receive(rt: Runtime, shop: ShopConfig, event: Event, order_id: str) -> str | None:
    """Store the event before anything else; its earlier state when it was handled before
    (None: new, or received but not finished: go on)."""
    now = rt.clock()
    try:
        with rt.db.session_for_update() as s:
            row = s.scalar(
                select(ShopEvent).where(
                    ShopEvent.shop_key == shop.key,
                    ShopEvent.delivery_id == event.delivery_id[:128],
                )
            )
            if row is not None:
                return None if row.state == RECEIVED else row.state
            s.add(
                ShopEvent(
                    shop_key=shop.key,
                    delivery_id=event.delivery_id[:128],
                    topic=event.topic[:64],
                    order_id=order_id,
                    state=RECEIVED,
                    received_at=now,
                    updated_at=now,
                )
            )
    except IntegrityError:
        return RECEIVED  # the same delivery at the same moment: the other request handles it
    return None


def _finish(
    rt: Runtime,
    shop: ShopConfig,
    event: Event,
    order_id: str,
    state: str,
    reason: str | None,
    invitation_id: int | None = None,
    invitation_status: str | None = None,
) -> Reply:
    with rt.db.session_for_update() as s:
        row = s.scalar(
            select(ShopEvent).where(
                ShopEvent.shop_key == shop.key, ShopEvent.delivery_id == event.delivery_id[:128]
            )
        )
        if row is not None:
            row.state, row.reason = state, reason[:200] if reason else None
            row.invitation_id, row.updated_at = invitation_id, rt.clock()
    body: dict[str, Any] = {"status": state, "order_id": order_id, "reason": reason}
    if invitation_id is not None:
        body |= {"invitation_id": invitation_id, "invitation_status": invitation_status}
    return Reply(200, body)

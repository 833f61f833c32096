"""What every shop shares: the signature check, the request and event types, the mapping
helpers. A shop module builds a `Platform`; `registry.PLATFORMS` lists them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.config import LANGUAGES
from bot.survey.contacts import normalise_phone

MAX_ITEMS = 20
MAX_NAME = 100
META_BUDGET = 3500  # a purchase's metadata is at most 4 KB of JSON (bot.survey.purchases)


class Malformed(ValueError):
    """A signed body the shop would never send (not JSON, no order id): answered 400."""


class Unavailable(RuntimeError):
    """The store's API could not be read now: answered 503 so the shop retries."""


class NotFound(LookupError):
    """The store's API says the order does not exist: nothing to register."""


@dataclass(frozen=True)
class ShopConfig:
    """A `shops` row, detached from its session."""

    key: str
    platform: str
    secret: str = field(repr=False)
    survey: str | None = None
    topics: tuple[str, ...] = ()
    store_id: str | None = None
    access_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Delivery:
    """The webhook as received: header names in lower case, the raw body."""

    headers: Mapping[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower()) or None


@dataclass(frozen=True)
class Event:
    """What a verified webhook asks: answer a ping, ignore it, or register an order."""

    action: Literal["ping", "ignore", "order"]
    topic: str = ""
    delivery_id: str = ""  # the shop's id of this delivery: a redelivery repeats it
    order: Mapping[str, Any] | None = None  # None with an order action: read it (`fetch`)
    # "<store>:<order id>": the purchase's order_id is "<platform>:" + this (unique per shop)
    order_ref: str = ""
    order_id: str = ""  # the shop's own order id (the store API reads it)
    reason: str = ""  # why it is ignored


@dataclass(frozen=True)
class StoreApi:
    """How to read a store's API (Tiendanube): base URL (a loopback fake in tests)."""

    base_url: str
    user_agent: str
    timeout: float


@dataclass(frozen=True)
class Platform:
    """One shop's webhook, as functions (adding a shop adds a module and a registry line)."""

    name: str
    label: str
    signature_header: str
    topics: tuple[str, ...]  # the order events it can trigger on
    default_topics: tuple[str, ...]
    verify: Callable[[str, Delivery], bool]
    read: Callable[[ShopConfig, Delivery], Event]  # raises Malformed
    purchase: Callable[
        [ShopConfig, Mapping[str, Any], str], dict[str, Any]
    ]  # (shop, order, country)
    # Reads the order when the event carries only its id; raises Unavailable, NotFound.
    fetch: Callable[[ShopConfig, Event, StoreApi], Mapping[str, Any]] | None = None
    is_ping: Callable[[Delivery], bool] = lambda _d: False  # answered before verifying
    needs_store: bool = False  # `shops add` asks for the store id and access token


def signed(secret: str, body: bytes, given: str | None, encoding: Literal["base64", "hex"]) -> bool:
    """Whether `given` is the HMAC-SHA256 of the raw body with the secret, compared in
    constant time. A missing signature is never valid."""
    if not given or not secret:
        return False
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    expected = base64.b64encode(digest).decode() if encoding == "base64" else digest.hex()
    return hmac.compare_digest(expected.encode(), given.strip().encode())


def first_phone(candidates: Iterable[tuple[Any, str]]) -> str | None:
    """The first candidate (raw phone, the country of its address) that is a valid number, in
    E.164; None when none is (a local number read with another country could be a stranger's:
    "555-555-SHIP" from a US address is a valid Mexico City number)."""
    for raw, country in candidates:
        if not isinstance(raw, str) or not raw.strip():
            continue
        try:
            return normalise_phone(raw, country if isinstance(country, str) else "MX")
        except ValueError:
            continue
    return None


def language(locale: Any) -> str | None:
    """ "es-MX", "pt_BR", "en" → the language npsbot speaks, or None (the default applies)."""
    if not isinstance(locale, str):
        return None
    code = locale[:2].lower()
    return code if code in LANGUAGES else None


def clip(value: Any, limit: int = MAX_NAME) -> str | None:
    """A short text for metadata, or None."""
    if value is None or isinstance(value, bool | dict | list):
        return None
    text = str(value).strip()
    return text[:limit] or None


def items(
    rows: Any, name: str, quantity: str = "quantity", sku: str = "sku"
) -> list[dict[str, Any]]:
    """The order's lines as {name, quantity, sku}, at most MAX_ITEMS of them."""
    if not isinstance(rows, list):
        return []
    out = []
    for row in rows[:MAX_ITEMS]:
        if not isinstance(row, dict):
            continue
        line: dict[str, Any] = {"name": clip(row.get(name))}
        count = row.get(quantity)
        if isinstance(count, int) and not isinstance(count, bool):
            line["quantity"] = count
        if clip(row.get(sku)):
            line["sku"] = clip(row.get(sku))
        out.append(line)
    return out


def purchase_input(
    survey: str | None,
    customer: Mapping[str, Any],
    metadata: Mapping[str, Any],
) -> dict[str, Any]:
    """The body `POST /api/v1/purchases` takes, but its order_id (`receive` names the order:
    "<platform>:<store>:<order id>"); empty values left out."""
    meta = {k: v for k, v in metadata.items() if v not in (None, [], "")}
    lines = list(meta.get("items", []))
    while lines and len(json.dumps(meta)) > META_BUDGET:
        lines.pop()  # the first lines say what was bought; the rest is counted
        meta["items"], meta["more_items"] = lines, meta.get("more_items", 0) + 1
    body: dict[str, Any] = {
        "customer": {k: v for k, v in customer.items() if v is not None},
        "metadata": meta,
    }
    if survey:
        body["survey"] = survey
    return body

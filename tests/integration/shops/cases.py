"""Table-driven shop webhook cases (after nyaruka/courier, like tests/e2e/channels/cases.py):
adding a shop adds a `rows_<shop>.py` with its rows and its signing, not machinery.

Each row replays a real payload from the platform's documentation (tests/payloads/<shop>/)
through the real Flask app at `POST /integrations/<platform>/<key>`, signed validly, invalidly
or not at all, and says what must be answered and stored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Signing = Literal["valid", "invalid", "missing"]


@dataclass(frozen=True)
class ShopCase:
    label: str
    payload: str  # file under tests/payloads/, e.g. "shopify/orders_fulfilled.json"
    signing: Signing = "valid"
    headers: Mapping[str, str] = field(default_factory=dict)  # besides the platform's own
    overrides: Mapping[str, Any] = field(default_factory=dict)  # top-level JSON keys replaced
    body: bytes | None = None  # instead of the payload (malformed bodies)
    content_type: str = "application/json"
    topics: tuple[str, ...] = ()  # the shop's chosen topics, when not the platform's defaults
    # Tiendanube: the order the fake store API answers (a file), its overrides, its status.
    store_order: str | None = None
    store_overrides: Mapping[str, Any] = field(default_factory=dict)
    store_status: int = 200
    # What must be answered.
    status: int = 200
    reply: Mapping[str, Any] = field(default_factory=dict)  # keys the JSON reply must have
    reason_contains: str | None = None
    # What must be stored: the purchase's order id (None: no invitation at all) …
    order_id: str | None = None
    phone: str | None = None
    name: str | None = None
    language: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)  # keys the invitation's must have
    event_state: str | None = None  # … and the shop_events row (None: no row)
    # Send it again: answered `duplicate`, nothing new.
    duplicate: bool = False
    # The store API was down (store_status): the shop's retry, with the API up, registers.
    retried: bool = False
    # Storage is what the row is about: run it on both databases (else SQLite only).
    both_databases: bool = False


@dataclass(frozen=True)
class ShopRows:
    platform: str
    key: str  # the shop's key in the URL
    secret: str
    headers: Mapping[str, str]  # every delivery's (topic, delivery id, source)
    sign: Callable[[str, bytes], dict[str, str]]  # (secret, body) -> signature header
    rows: list[ShopCase]
    topics: tuple[str, ...] = ()
    store_id: str | None = None
    access_token: str | None = None

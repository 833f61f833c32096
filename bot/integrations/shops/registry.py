"""The platforms by name (/integrations/<name>/<shop key>) and what a shop's configuration
must be, checked the same way for `npsbot shops add` and SHOPS_FILE.

A new shop is a module and a line in PLATFORMS; its tests are rows (tests/integration/shops/)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.integrations.shops import shopify, tiendanube, woocommerce
from bot.integrations.shops.common import Platform, ShopConfig

PLATFORMS: dict[str, Platform] = {
    p.name: p for p in (shopify.PLATFORM, woocommerce.PLATFORM, tiendanube.PLATFORM)
}
KEY = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


class Refused(ValueError):
    """The shop's configuration cannot work (the message says why)."""


def checked(
    key: str,
    platform: str,
    secret: str,
    survey: str | None = None,
    topics: Sequence[str] = (),
    store_id: str | None = None,
    access_token: str | None = None,
) -> ShopConfig:
    """A shop's configuration, or Refused naming what is wrong. (Whether the survey exists is
    the database's to say: `admin.add_shop` checks it.)"""
    found = PLATFORMS.get(platform)
    if found is None:
        raise Refused(f"no platform {platform!r}: one of {', '.join(PLATFORMS)}")
    if not KEY.fullmatch(key):
        raise Refused("the key is 1-64 lower-case letters, digits and dashes (it goes in the URL)")
    if not 8 <= len(secret) <= 200:
        raise Refused("the secret must be 8 to 200 characters, as the shop shows it")
    chosen = tuple(dict.fromkeys(topics)) or found.default_topics
    if unknown := [t for t in chosen if t not in found.topics]:
        raise Refused(f"{found.label} topics are {', '.join(found.topics)}, not {unknown[0]!r}")
    if found.needs_store and not (store_id and access_token):
        raise Refused(f"{found.label} needs the store id and its access token to read orders")
    if store_id is not None and not store_id.isdigit():
        raise Refused("the store id is a number")
    return ShopConfig(key, found.name, secret, survey, chosen, store_id, access_token)

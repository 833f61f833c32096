"""Shops declared in a file (SHOPS_FILE) instead of `npsbot shops add`: for deployments
configured by files. The file holds the webhook secrets: keep it like `.env` (chmod 600).

```toml
[[shop]]
key = "acme"
platform = "shopify"
secret = "…"
survey = "post-purchase"          # optional: the first survey
topics = ["orders/fulfilled"]     # optional: the platform's default
# store_id = "123456"  access_token = "…"   (Tiendanube)
```

A shop in the database wins over one of the same key here. Read again when the file changes.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.integrations.shops.common import ShopConfig
from bot.integrations.shops.registry import Refused, checked

FIELDS = {"key", "platform", "secret", "survey", "topics", "store_id", "access_token"}
_cache: dict[str, tuple[int, dict[str, ShopConfig]]] = {}


def declared_shops(settings: Settings) -> dict[str, ShopConfig]:
    """SHOPS_FILE's shops by key ({} when unset); Refused naming the file and entry when one
    cannot work, so a broken file is loud, not a shop silently missing."""
    if not settings.shops_file:
        return {}
    path = Path(settings.shops_file)
    stamp = path.stat().st_mtime_ns
    cached = _cache.get(str(path))
    if cached is not None and cached[0] == stamp:
        return cached[1]
    shops = parse(path.read_text(encoding="utf-8"), str(path))
    _cache[str(path)] = (stamp, shops)
    return shops


def parse(text: str, where: str = "SHOPS_FILE") -> dict[str, ShopConfig]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise Refused(f"{where}: not TOML: {exc}") from None
    entries = data.get("shop", [])
    if set(data) - {"shop"} or not isinstance(entries, list):
        raise Refused(f"{where}: only [[shop]] tables are read")
    shops: dict[str, ShopConfig] = {}
    for i, entry in enumerate(entries, 1):
        here = f"{where}: shop {i}"
        if not isinstance(entry, dict) or (extra := set(entry) - FIELDS):
            raise Refused(f"{here}: unknown field {sorted(extra)[0]!r}" if entry else here)
        values: dict[str, Any] = {k: entry.get(k) for k in FIELDS}
        if not all(isinstance(values[k], str) for k in ("key", "platform", "secret")):
            raise Refused(f"{here}: key, platform and secret are required text")
        topics = values["topics"] or []
        if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
            raise Refused(f"{here}: topics is a list of event names")
        try:
            shop = checked(
                values["key"],
                values["platform"],
                values["secret"],
                values["survey"],
                topics,
                None if values["store_id"] is None else str(values["store_id"]),
                values["access_token"],
            )
        except Refused as exc:
            raise Refused(f"{here}: {exc}") from None
        if shop.key in shops:
            raise Refused(f"{here}: the key {shop.key!r} is declared twice")
        shops[shop.key] = shop
    return shops

"""The shops that trigger surveys, managed (`npsbot shops add|list|remove`), each change an
audit row in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from bot.integrations.shops.common import ShopConfig
from bot.integrations.shops.declared import declared_shops
from bot.integrations.shops.receive import shop_config
from bot.integrations.shops.registry import Refused, checked
from bot.runtime import Runtime
from bot.storage import audit
from bot.storage.models import Shop
from bot.survey.purchases import survey_by_key

__all__ = ["NewShop", "Refused", "add_shop", "list_shops", "remove_shop", "webhook_path"]


@dataclass(frozen=True)
class NewShop:
    key: str
    platform: str
    secret: str
    survey: str | None = None
    topics: Sequence[str] = ()
    store_id: str | None = None
    access_token: str | None = None


def add_shop(rt: Runtime, new: NewShop, actor: str = "cli", source: str = "cli") -> ShopConfig:
    shop = checked(
        new.key, new.platform, new.secret, new.survey, new.topics, new.store_id, new.access_token
    )
    with rt.db.session_for_update() as s:
        if shop.survey is not None and survey_by_key(s, shop.survey) is None:
            raise Refused(f"no survey {shop.survey!r}")
        if s.scalar(select(Shop.id).where(Shop.key == shop.key)) is not None:
            raise Refused(f"a shop {shop.key!r} exists: remove it first")
        s.add(
            Shop(
                key=shop.key,
                platform=shop.platform,
                secret=shop.secret,
                survey=shop.survey,
                topics=list(shop.topics),
                store_id=shop.store_id,
                access_token=shop.access_token,
                created_at=rt.clock(),
            )
        )
        audit.record(
            s,
            at=rt.clock(),
            actor=actor,
            action="shop.add",
            target=f"shop:{shop.key}",
            source=source,
            platform=shop.platform,
            topics=list(shop.topics),
        )
    return shop


def list_shops(rt: Runtime) -> list[tuple[ShopConfig, str]]:
    """Every shop with where it is configured ("database" or "file"), by key; a database
    shop hides a file one of the same key, as it does for webhooks."""
    with rt.db.session() as s:
        rows = {r.key: (shop_config(r), "database") for r in s.scalars(select(Shop))}
    merged = {k: (v, "file") for k, v in declared_shops(rt.settings).items()} | rows
    return [merged[k] for k in sorted(merged)]


def remove_shop(rt: Runtime, key: str, actor: str = "cli", source: str = "cli") -> None:
    with rt.db.session_for_update() as s:
        shop = s.scalar(select(Shop).where(Shop.key == key))
        if shop is None:
            declared = key in declared_shops(rt.settings)
            raise Refused(
                f"shop {key!r} is declared in SHOPS_FILE: remove it there"
                if declared
                else f"no shop {key!r}"
            )
        audit.record(
            s,
            at=rt.clock(),
            actor=actor,
            action="shop.remove",
            target=f"shop:{key}",
            source=source,
            platform=shop.platform,
        )
        s.delete(shop)


def webhook_path(shop: ShopConfig) -> str:
    return f"/integrations/{shop.platform}/{shop.key}"

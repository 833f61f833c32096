"""The shops that trigger surveys, managed (`npsbot shops add|list|remove`), each change an
audit row in the same transaction."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from bot.integrations.shops.receive import PLATFORMS
from bot.runtime import Runtime
from bot.storage import audit
from bot.storage.models import Shop
from bot.survey.purchases import survey_by_key

KEY = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


class Refused(ValueError):
    """The shop cannot be added or removed as asked (the message says why)."""


@dataclass(frozen=True)
class NewShop:
    key: str
    platform: str
    secret: str
    survey: str | None = None
    topics: Sequence[str] = ()
    store_id: str | None = None
    access_token: str | None = None


def add_shop(rt: Runtime, new: NewShop, actor: str = "cli", source: str = "cli") -> Shop:
    platform = PLATFORMS.get(new.platform)
    if platform is None:
        raise Refused(f"no platform {new.platform!r}: one of {', '.join(PLATFORMS)}")
    if not KEY.fullmatch(new.key):
        raise Refused("the key is 1-64 lower-case letters, digits and dashes (it goes in the URL)")
    if len(new.secret) < 8 or len(new.secret) > 200:
        raise Refused("the secret must be 8 to 200 characters, as the shop shows it")
    topics = tuple(dict.fromkeys(new.topics)) or platform.default_topics
    if unknown := [t for t in topics if t not in platform.topics]:
        raise Refused(
            f"{platform.label} topics are {', '.join(platform.topics)}, not {unknown[0]!r}"
        )
    if platform.needs_store and not (new.store_id and new.access_token):
        raise Refused(f"{platform.label} needs the store id and its access token to read orders")
    if new.store_id is not None and not new.store_id.isdigit():
        raise Refused("the store id is a number")
    with rt.db.session_for_update() as s:
        if new.survey is not None and survey_by_key(s, new.survey) is None:
            raise Refused(f"no survey {new.survey!r}")
        if s.scalar(select(Shop.id).where(Shop.key == new.key)) is not None:
            raise Refused(f"a shop {new.key!r} exists: remove it first")
        shop = Shop(
            key=new.key,
            platform=platform.name,
            secret=new.secret,
            survey=new.survey,
            topics=list(topics),
            store_id=new.store_id,
            access_token=new.access_token,
            created_at=rt.clock(),
        )
        s.add(shop)
        audit.record(
            s,
            at=rt.clock(),
            actor=actor,
            action="shop.add",
            target=f"shop:{new.key}",
            source=source,
            platform=platform.name,
            topics=list(topics),
        )
        s.flush()
        s.expunge(shop)
    return shop


def list_shops(rt: Runtime) -> list[Shop]:
    with rt.db.session() as s:
        shops = list(s.scalars(select(Shop).order_by(Shop.key)))
        s.expunge_all()
    return shops


def remove_shop(rt: Runtime, key: str, actor: str = "cli", source: str = "cli") -> None:
    with rt.db.session_for_update() as s:
        shop = s.scalar(select(Shop).where(Shop.key == key))
        if shop is None:
            raise Refused(f"no shop {key!r}")
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


def webhook_path(shop: Shop) -> str:
    return f"/integrations/{shop.platform}/{shop.key}"

"""Shops that trigger surveys (issue 21): their configuration and the order events they sent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.models.base import Base, Id, utcnow


class Shop(Base):
    """A shop whose signed order webhooks become purchases (`npsbot shops add`)."""

    __tablename__ = "shops"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)  # in the URL: /integrations/<p>/<key>
    platform: Mapped[str] = mapped_column(String(16))  # "shopify", "woocommerce", "tiendanube"
    # Verifies the webhooks' signatures, so it is kept as given: a secret, never shown or logged.
    secret: Mapped[str] = mapped_column(String(200))
    survey: Mapped[str | None] = mapped_column(String(64))  # None: the first survey
    topics: Mapped[list[str]] = mapped_column(default=list)  # the order events that trigger
    # Tiendanube only: the order is read with the store's API (the event carries only its id).
    store_id: Mapped[str | None] = mapped_column(String(32))
    access_token: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ShopEvent(Base):
    """One order webhook a shop sent, stored before it is answered: a redelivery (the same
    delivery id) is answered without a second purchase; a Tiendanube event whose order could
    not be read yet stays `received` until the shop's retry reads it."""

    __tablename__ = "shop_events"
    __table_args__ = (UniqueConstraint("shop_key", "delivery_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    shop_key: Mapped[str] = mapped_column(String(64))  # no foreign key: history outlives a shop
    delivery_id: Mapped[str] = mapped_column(String(128))  # the shop's webhook/delivery id
    topic: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[str | None] = mapped_column(String(128))  # the purchase's order_id
    # "received", "registered", "skipped" (the purchase rules said no: `reason`), "known"
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(200))
    invitation_id: Mapped[int | None] = mapped_column(Id)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

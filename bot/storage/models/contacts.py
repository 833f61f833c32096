"""Customers and their address on each channel."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.storage.models.base import Base, Id, utcnow


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(20), index=True)  # E.164
    telegram_chat_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    # Only names and finds the contact (the Delighted-compatible API): npsbot surveys in chat.
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    language: Mapped[str] = mapped_column(String(8))
    timezone: Mapped[str | None] = mapped_column(String(64))  # IANA
    # The business's own flat key/values (segment, plan, city): audiences filter on them.
    # Filled by the database (as migration 0013 does for existing rows), so that code written
    # before the column, such as the older migrations' tests, inserts contacts unchanged.
    attributes: Mapped[dict[str, Any]] = mapped_column(server_default="{}")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    channels: Mapped[list[ContactChannel]] = relationship(back_populates="contact")


class ContactChannel(Base):
    """A contact's address and state on one channel: opt-out, reachability, session window."""

    __tablename__ = "contact_channels"
    __table_args__ = (
        UniqueConstraint("channel", "address"),
        UniqueConstraint("contact_id", "channel"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(32))
    address: Mapped[str] = mapped_column(String(64))
    opted_out_at: Mapped[datetime | None]
    unreachable_at: Mapped[datetime | None]
    unreachable_reason: Mapped[str | None] = mapped_column(String(200))
    # The customer's last message opens the provider's free-form window (WhatsApp: 24 h).
    last_inbound_at: Mapped[datetime | None]

    contact: Mapped[Contact] = relationship(back_populates="channels")


class Consent(Base):
    """A contact's consent on one channel, as history: each grant or withdrawal is a row, the
    latest per channel is the state. `method` is how it reached npsbot (api, csv, touchpoint,
    start, keyword, business, provider); `source` the business's own words ("checkout form")
    or the customer's keyword."""

    __tablename__ = "consents"
    __table_args__ = (Index("ix_consents_contact_id_channel_at", "contact_id", "channel", "at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(32))
    given: Mapped[bool]
    method: Mapped[str] = mapped_column(String(16))
    source: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[datetime]  # when the customer gave or withdrew it
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

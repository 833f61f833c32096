"""Touchpoints: named entries to a survey (a store's counter, a receipt) with fixed metadata."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.storage.models.base import Base, Id, utcnow
from bot.storage.models.surveys import Survey


class Touchpoint(Base):
    """A survey's entry: its short code starts the survey on the channel it is sent on (0015)."""

    __tablename__ = "touchpoints"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"))
    # Copied into every invitation it starts, with "touchpoint": key.
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # "NPS-CENTRO7K4"; rotatable
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # One survey per address per touchpoint in this many hours (the abuse bound).
    window_hours: Mapped[int] = mapped_column(Integer, default=24)
    # Hash of the creating request: the same key with another body is a conflict.
    request_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    survey: Mapped[Survey] = relationship()

"""The audit trail: who did what to whose data, when and from where (issue 20)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.models.base import Base, Id, utcnow


class AuditEvent(Base):
    """One staff (or customer) action. Never a message text: `detail` holds ids, counts and
    field names only (`bot.storage.audit.record` refuses text-like keys)."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_at_id", "at", "id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # "dashboard:<user>", "api:<key name>", "cli", "customer" (a right exercised from the chat)
    actor: Mapped[str] = mapped_column(String(200), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)  # "case.take", "contact.erase"…
    target: Mapped[str | None] = mapped_column(String(200))  # "case:12", "contact:7", "survey:x"
    # Where from: the client's address for the web, "cli" for the command line, "chat:<channel>".
    source: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)

"""Who may use npsbot: API keys for businesses, log-ins for staff."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.models.base import Base, Id, utcnow


class ApiKey(Base):
    """A business's key to the API; only its SHA-256 is stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))  # shown in listings to tell keys apart
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class StaffRole(enum.StrEnum):
    OWNER = "owner"  # everything, including users, API keys and surveys
    AGENT = "agent"  # cases and replies to customers
    VIEWER = "viewer"  # sees everything, acts on nothing


class StaffUser(Base):
    """A person who logs in to the dashboard; only a scrypt hash of the password is stored."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(10), default=StaffRole.AGENT)
    # The dashboard's language for this user (es, en, pt); None: DEFAULT_LANGUAGE.
    language: Mapped[str | None] = mapped_column(String(5))
    # Unused since failed log-ins are throttled per (name, client), never per account
    # (bot/accounts/users.py: LoginThrottle); kept so a downgrade needs no data.
    failed_logins: Mapped[int] = mapped_column(SmallInteger, default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]
    # Bumped by log-out and a new password: a session made before it is refused.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

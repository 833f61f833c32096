"""API keys: shown once at creation, stored as SHA-256 (keys are long random, so no slow hash)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.storage.models import ApiKey

PREFIX = "nps_"
MAX_NAME = 100  # api_keys.name is VARCHAR(100)
LAST_USED_EVERY = timedelta(minutes=1)


class ApiKeyError(ValueError):
    pass


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(s: Session, name: str, now: datetime) -> str:
    """A new key for NAME; the only time the key itself is visible."""
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise ApiKeyError(f"the key's name must be 1-{MAX_NAME} characters")
    if s.scalar(select(ApiKey).where(ApiKey.name == name)) is not None:
        raise ApiKeyError(f"a key named {name!r} exists already (revoke it first)")
    key = PREFIX + secrets.token_urlsafe(32)
    s.add(ApiKey(name=name, key_hash=_hash(key), prefix=key[:12], created_at=now))
    return key


def revoke_key(s: Session, name: str, now: datetime) -> None:
    row = s.scalar(select(ApiKey).where(ApiKey.name == name, ApiKey.revoked_at.is_(None)))
    if row is None:
        raise ApiKeyError(f"no active key named {name!r}")
    row.revoked_at = now
    # Free the name for a replacement key.
    row.name = f"{name} (revoked {now:%Y-%m-%d %H:%M:%S} #{row.id})"[:MAX_NAME]


def check_key(s: Session, key: str, now: datetime) -> ApiKey | None:
    """The active key matching KEY, or None."""
    if not key.startswith(PREFIX):
        return None
    row = s.scalar(select(ApiKey).where(ApiKey.key_hash == _hash(key)))
    if row is None or row.revoked_at is not None:
        return None
    # "Last used" is a hint for revoking stale keys: writing it on every request would turn each
    # read-only report into a write transaction, so it is refreshed at most once a minute.
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_EVERY:
        row.last_used_at = now
    return row

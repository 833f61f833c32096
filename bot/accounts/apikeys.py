"""API keys: shown once at creation, stored as SHA-256 (keys are long random, so no slow hash)."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from bot.accounts.errors import AccountError
from bot.storage.models import ApiKey

PREFIX = "nps_"
MAX_NAME = 100  # api_keys.name is VARCHAR(100)
LAST_USED_EVERY = timedelta(minutes=1)


# What revoke_key appends to a revoked key's name (the name is free again for a new key).
REVOKED_SUFFIX = re.compile(r" \(revoked \d{4}-\d\d-\d\d \d\d:\d\d:\d\d #\d+\)$")


class ApiKeyError(AccountError):
    pass


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(s: Session, name: str, now: datetime) -> str:
    """A new key for NAME; the only time the key itself is visible."""
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise ApiKeyError(
            "key_name", f"the key's name must be 1-{MAX_NAME} characters", max=MAX_NAME
        )
    if s.scalar(select(ApiKey).where(ApiKey.name == name)) is not None:
        raise ApiKeyError(
            "key_taken", f"a key named {name!r} exists already (revoke it first)", name=name
        )
    key = PREFIX + secrets.token_urlsafe(32)
    s.add(ApiKey(name=name, key_hash=_hash(key), prefix=key[:12], created_at=now))
    return key


def revoke_key(s: Session, name: str, now: datetime) -> None:
    row = s.scalar(select(ApiKey).where(ApiKey.name == name, ApiKey.revoked_at.is_(None)))
    if row is None:
        raise ApiKeyError("no_key", f"no active key named {name!r}", name=name)
    row.revoked_at = now
    # Free the name for a replacement key.
    row.name = f"{name} (revoked {now:%Y-%m-%d %H:%M:%S} #{row.id})"[:MAX_NAME]


def list_keys(s: Session) -> list[ApiKey]:
    """Every key, the active ones first, each group oldest first."""
    return list(s.scalars(select(ApiKey).order_by(ApiKey.revoked_at.is_not(None), ApiKey.id)))


def shown_name(row: ApiKey) -> str:
    """The name the key was created with (a revoked key's stored name carries a suffix)."""
    return REVOKED_SUFFIX.sub("", row.name) if row.revoked_at is not None else row.name


def check_key(s: Session, key: str) -> ApiKey | None:
    """The active key matching KEY, or None. Read-only: see `touch_key` for "last used"."""
    if not key.startswith(PREFIX):
        return None
    row = s.scalar(select(ApiKey).where(ApiKey.key_hash == _hash(key)))
    if row is None or row.revoked_at is not None:
        return None
    return row


def needs_touch(row: ApiKey, now: datetime) -> bool:
    """Whether the key's "last used" is stale (refreshed at most once a minute)."""
    return row.last_used_at is None or now - row.last_used_at >= LAST_USED_EVERY


def touch_key(s: Session, key_id: int, now: datetime) -> None:
    """Refresh "last used" (a hint for revoking stale keys) in the caller's own short write
    transaction: written inside a report's read transaction, the upgrade to a writer failed
    on SQLite ("database is locked") whenever another writer had committed meanwhile."""
    s.execute(
        update(ApiKey)
        .where(
            ApiKey.id == key_id,
            or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at <= now - LAST_USED_EVERY),
        )
        .values(last_used_at=now)
    )

"""Staff accounts for the dashboard: scrypt password hashes, roles, lock-out after failed log-ins.

Passwords are hashed with the standard library's scrypt (memory-hard, salted); the stored form
is `scrypt$<n>$<r>$<p>$<salt hex>$<hash hex>` so the parameters can be raised later.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.storage.models import StaffRole, StaffUser

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MIN_PASSWORD = 10
MAX_FAILURES = 5  # failed log-ins in a row before the account is locked
LOCK_FOR = timedelta(minutes=15)
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@+-]{2,64}$")


class UserError(ValueError):
    pass


class Locked(UserError):
    def __init__(self, until: datetime) -> None:
        super().__init__(f"too many failed log-ins: try again after {until:%H:%M} UTC")
        self.until = until


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(
            password.encode(),
            salt=bytes.fromhex(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(digest) // 2,
        )
    except ValueError:
        return False
    return hmac.compare_digest(got.hex(), digest)


# Checked against when the user does not exist, so timing does not reveal which names exist.
_DUMMY_HASH = hash_password(secrets.token_hex(8))


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"password: at least {MIN_PASSWORD} characters")


def _named(s: Session, username: str) -> StaffUser | None:
    return s.scalar(select(StaffUser).where(StaffUser.username == username))


def active_user(s: Session, user_id: int) -> StaffUser | None:
    """The user with this id if they may use the dashboard (exists, not disabled)."""
    user = s.get(StaffUser, user_id)
    return user if user is not None and user.disabled_at is None else None


def create_user(
    s: Session, username: str, password: str, now: datetime, role: str = StaffRole.STAFF
) -> StaffUser:
    username = username.strip()
    if not USERNAME_RE.match(username):
        raise UserError("username: 2-64 letters, digits or . _ @ + -")
    if role not in tuple(StaffRole):
        raise UserError(f"role: use {' or '.join(StaffRole)}")
    _check_password(password)
    if _named(s, username) is not None:
        raise UserError(f"a user named {username!r} exists already")
    user = StaffUser(
        username=username, password_hash=hash_password(password), role=role, created_at=now
    )
    s.add(user)
    s.flush()
    return user


def set_password(s: Session, username: str, password: str) -> None:
    user = _named(s, username)
    if user is None:
        raise UserError(f"no user named {username!r}")
    _check_password(password)
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None


def authenticate(s: Session, username: str, password: str, now: datetime) -> StaffUser | None:
    """The user when the password is right; None otherwise. Raises `Locked` when locked out."""
    found = _named(s, username.strip())
    user = active_user(s, found.id) if found is not None else None
    if user is None:
        verify_password(password, _DUMMY_HASH)
        return None
    if user.locked_until is not None and user.locked_until > now:
        raise Locked(user.locked_until)
    if not verify_password(password, user.password_hash):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILURES:
            user.locked_until = now + LOCK_FOR
            user.failed_logins = 0
        return None
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    return user


def list_users(s: Session) -> list[StaffUser]:
    return list(s.scalars(select(StaffUser).order_by(StaffUser.username)))

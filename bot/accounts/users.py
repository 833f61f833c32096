"""Staff accounts for the dashboard: scrypt password hashes, roles, session versions, and the
log-in throttle.

Passwords are hashed with the standard library's scrypt (memory-hard, salted); the stored form
is `scrypt$<n>$<r>$<p>$<salt hex>$<hash hex>` so the parameters can be raised later.

Failed log-ins are throttled per (name, client), never per account: a stranger who guesses
wrong five times slows down only himself, and the right password from another client still
works. A name that does not exist is throttled exactly like one that does (same answers, and a
dummy hash checked in the same time), so the answers never tell which names exist.

The team always keeps an active owner: no role change or disabling takes away the last one
(the owner rows are locked while it is checked, so two owners demoting each other at once
leave one). Disabling a user, a new password or a new role ends their sessions.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.accounts.errors import AccountError
from bot.storage.models import StaffRole, StaffUser

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MIN_PASSWORD = 10
MAX_FAILURES = 5  # failed log-ins in a row, per (name, client), before each try must wait
FIRST_WAIT = timedelta(seconds=30)  # after MAX_FAILURES; doubled by each further failure
LOCK_FOR = timedelta(minutes=15)  # the longest wait; a pair quiet this long after it is forgotten
IP_WINDOW_SECONDS = 300
IP_MAX_ATTEMPTS = 20  # log-in attempts per client address per window, whatever the names
MAX_PAIRS = 10_000  # pairs remembered at most (memory stays bounded under a spray)
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@+-]{2,64}$")


class UserError(AccountError):
    pass


class Locked(UserError):
    def __init__(self, until: datetime, now: datetime) -> None:
        wait = max(1, int((until - now).total_seconds() + 0.999))
        super().__init__(
            "locked",
            f"too many failed log-ins from here: try again in {wait} seconds",
            seconds=wait,
        )
        self.until, self.seconds = until, wait


@dataclass
class _Failures:
    count: int
    last: datetime
    wait_until: datetime | None = None

    def stale(self, now: datetime) -> bool:
        """Quiet for LOCK_FOR since the last failure or the end of its wait: forgotten."""
        return now - max(self.last, self.wait_until or self.last) >= LOCK_FOR


class LoginLimiter:
    """At most IP_MAX_ATTEMPTS log-in attempts per client address per window (in process)."""

    def __init__(self, limit: int = IP_MAX_ATTEMPTS, window: float = IP_WINDOW_SECONDS) -> None:
        self.limit, self.window = limit, window
        self.hits: dict[str, deque[float]] = {}
        self.lock = threading.Lock()

    def allow(self, key: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self.lock:
            q = self.hits.setdefault(key, deque())
            while q and q[0] <= now - self.window:
                q.popleft()
            if len(q) >= self.limit:
                return False
            q.append(now)
            return True


class LoginThrottle:
    """Failed log-ins per (name, client) with growing waits (in process: `npsbot serve` is one)."""

    def __init__(self) -> None:
        self.pairs: dict[tuple[str, str], _Failures] = {}
        self.lock = threading.Lock()

    def check(self, username: str, client: str, now: datetime) -> None:
        """Raises `Locked` while this pair must wait, whether or not the name exists."""
        with self.lock:
            f = self.pairs.get((username.strip(), client))
        if f is not None and f.wait_until is not None and f.wait_until > now:
            raise Locked(f.wait_until, now)

    def failed(self, username: str, client: str, now: datetime) -> None:
        key = (username.strip(), client)
        with self.lock:
            f = self.pairs.get(key)
            if f is None or f.stale(now):
                f = self.pairs[key] = _Failures(0, now)
            f.count, f.last = f.count + 1, now
            if f.count >= MAX_FAILURES:
                f.wait_until = now + min(LOCK_FOR, FIRST_WAIT * 2 ** (f.count - MAX_FAILURES))
            if len(self.pairs) > MAX_PAIRS:
                self._forget(now)

    def succeeded(self, username: str, client: str) -> None:
        with self.lock:
            self.pairs.pop((username.strip(), client), None)

    def _forget(self, now: datetime) -> None:
        quiet = [k for k, f in self.pairs.items() if f.stale(now)]
        for key in quiet or sorted(self.pairs, key=lambda k: self.pairs[k].last)[: MAX_PAIRS // 10]:
            del self.pairs[key]


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


def new_password() -> str:
    """A password to hand over once (16 characters, 96 random bits), for whoever sets none."""
    return secrets.token_urlsafe(12)


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(
            "password", f"password: at least {MIN_PASSWORD} characters", min=MIN_PASSWORD
        )


def _check_role(role: str) -> None:
    if role not in tuple(StaffRole):
        raise UserError("role", f"role: one of {', '.join(StaffRole)}")


def _named(s: Session, username: str) -> StaffUser | None:
    return s.scalar(select(StaffUser).where(StaffUser.username == username))


def _existing(s: Session, username: str) -> StaffUser:
    user = _named(s, username)
    if user is None:
        raise UserError("no_user", f"no user named {username!r}", name=username)
    return user


def active_user(s: Session, user_id: int) -> StaffUser | None:
    """The user with this id if they may use the dashboard (exists, not disabled)."""
    user = s.get(StaffUser, user_id)
    return user if user is not None and user.disabled_at is None else None


def create_user(
    s: Session, username: str, password: str, now: datetime, role: str | None = None
) -> StaffUser:
    """A new account; with no role given, the first account is an owner and later ones agents."""
    if role is None:
        first = s.scalar(select(StaffUser.id).limit(1)) is None
        role = StaffRole.OWNER if first else StaffRole.AGENT
    username = username.strip()
    if not USERNAME_RE.match(username):
        raise UserError("username", "username: 2-64 letters, digits or . _ @ + -")
    _check_role(role)
    _check_password(password)
    if _named(s, username) is not None:
        raise UserError(
            "username_taken", f"a user named {username!r} exists already", name=username
        )
    user = StaffUser(
        username=username, password_hash=hash_password(password), role=role, created_at=now
    )
    s.add(user)
    s.flush()
    return user


def set_password(s: Session, username: str, password: str) -> StaffUser:
    """A new password for USERNAME; their sessions end."""
    user = _existing(s, username)
    _check_password(password)
    user.password_hash = hash_password(password)
    end_sessions(user)
    return user


def set_role(s: Session, username: str, role: str) -> StaffUser:
    """Give USERNAME another role; their sessions end (the cookie carries the old role)."""
    user = _existing(s, username)
    _check_role(role)
    if role == user.role:
        return user  # nothing changes, so their sessions stay
    if role != StaffRole.OWNER:
        _keep_an_owner(s, user)
    user.role = role
    end_sessions(user)
    return user


def set_disabled(s: Session, username: str, disabled: bool, now: datetime) -> StaffUser:
    """Disable USERNAME (they cannot log in, their sessions end) or enable them again."""
    user = _existing(s, username)
    if not disabled:
        user.disabled_at = None
    elif user.disabled_at is None:
        _keep_an_owner(s, user)
        user.disabled_at = now
        end_sessions(user)
    return user


def _keep_an_owner(s: Session, user: StaffUser) -> None:
    """Refuse a change that takes USER away from the owners when no other active owner is left.
    The active owners' rows are locked (PostgreSQL) so a concurrent change waits and recounts."""
    owners = select(StaffUser.id).where(
        StaffUser.role == StaffRole.OWNER, StaffUser.disabled_at.is_(None)
    )
    ids = s.scalars(owners.order_by(StaffUser.id).with_for_update()).all()
    if user.id in ids and len(ids) == 1:
        raise UserError(
            "last_owner",
            f"{user.username} is the only owner: make someone else owner first",
            name=user.username,
        )


def end_sessions(user: StaffUser) -> None:
    """Every session made so far stops working (log-out, a new password)."""
    user.session_version = (user.session_version or 0) + 1


def authenticate(s: Session, username: str, password: str, now: datetime) -> StaffUser | None:
    """The user when the password is right; None otherwise, in the same time for a missing name.
    Reads only."""
    found = _named(s, username.strip())
    user = active_user(s, found.id) if found is not None else None
    if user is None:
        verify_password(password, _DUMMY_HASH)
        return None
    return user if verify_password(password, user.password_hash) else None


def record_login(s: Session, user_id: int, now: datetime, language: str | None = None) -> int:
    """Note the log-in (in a writing transaction), and the language chosen on the log-in page;
    the session version the cookie carries."""
    user = s.get(StaffUser, user_id)
    if user is None:
        raise UserError("no_user", f"no user {user_id}", name=str(user_id))
    user.last_login_at = now
    if language is not None:
        user.language = language
    return user.session_version


def list_users(s: Session) -> list[StaffUser]:
    return list(s.scalars(select(StaffUser).order_by(StaffUser.username)))

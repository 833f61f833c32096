"""Score buttons whose data carries the invitation and cannot be forged.

callback_data = "s:<invitation id>:<score>:<mac>" (Telegram allows 1-64 bytes), where mac is the
first 10 characters of an HMAC-SHA256 over the rest, keyed with SECRET_KEY.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache

from channels.base import Button

LABELS = tuple(str(n) for n in range(11))


@lru_cache(maxsize=4)
def _keyed(secret: str) -> hmac.HMAC:
    # The key's two padded blocks hashed once per secret: each MAC copies this state (never
    # updated itself, so the copies are safe from any thread).
    return hmac.new(secret.encode(), digestmod=hashlib.sha256)


def _mac(secret: str, body: str) -> str:
    h = _keyed(secret).copy()
    h.update(body.encode())
    return base64.urlsafe_b64encode(h.digest())[:10].decode()


def score_data(secret: str, invitation_id: int, score: int) -> str:
    body = f"s:{invitation_id}:{score}"
    return f"{body}:{_mac(secret, body)}"


def score_buttons(secret: str, invitation_id: int) -> tuple[tuple[Button, ...], ...]:
    """0-10 in two rows (0-5, 6-10): fits a phone screen without scrolling."""
    row = [Button(LABELS[n], score_data(secret, invitation_id, n)) for n in range(11)]
    return (tuple(row[:6]), tuple(row[6:]))


def read_score(secret: str, data: str) -> tuple[int, int] | None:
    """(invitation id, score) from genuine button data; None when forged or malformed."""
    parts = data.split(":")
    if len(parts) != 4 or parts[0] != "s" or not parts[1].isdigit() or not parts[2].isdigit():
        return None
    body = ":".join(parts[:3])
    if not hmac.compare_digest(_mac(secret, body), parts[3]):
        return None
    score = int(parts[2])
    return (int(parts[1]), score) if 0 <= score <= 10 else None

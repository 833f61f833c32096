"""Delighted's shapes: unix times, its request fields (JSON or form-encoded), its person
object, and the errors its clients read (`{"status": 422, "message": …}`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.storage.models import Contact

MAX_PER_PAGE = 100  # Delighted's own maximum
DEFAULT_PER_PAGE = 20
MAX_EMAIL = 254  # contacts.email is VARCHAR(254) (RFC 5321's path limit)
# npsbot's field names in errors, as a Delighted client names them.
FIELD_NAMES = {
    "customer.phone": "phone_number",
    "customer.name": "name",
    "customer.language": "properties.locale",
    "delay_minutes": "delay",
    "metadata": "properties",
}


class Refused(ValueError):
    """A request Delighted would refuse: answered `{"status": …, "message": …}`."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


class NotFound(Refused):
    def __init__(self, what: str) -> None:
        super().__init__(f"{what} not found", 404)


def unix(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp())


def moment(raw: Any, name: str) -> datetime | None:
    """A unix timestamp parameter (`since=1425168000`), as Delighted and its clients send it."""
    if raw is None or raw == "":
        return None
    try:
        seconds = float(raw)
        if not math.isfinite(seconds) or not 0 <= seconds < 32503680000:  # before 3000
            raise ValueError(raw)
    except (TypeError, ValueError):
        raise Refused(f"{name} must be a unix timestamp (seconds)") from None
    return datetime.fromtimestamp(seconds, UTC)


def digits(raw: str) -> int | None:
    """An id as text (`"42"`): ASCII digits only ("²".isdigit() is true), within 64 bits."""
    raw = raw.strip()
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None


def whole(raw: Any, name: str, low: int, high: int, default: int) -> int:
    if raw is None or raw == "":
        return default
    value = None if isinstance(raw, bool) else raw if isinstance(raw, int) else digits(str(raw))
    if value is None:
        raise Refused(f"{name} must be a whole number from {low} to {high}")
    if not low <= value <= high:
        raise Refused(f"{name} must be a whole number from {low} to {high}")
    return value


def flag(raw: Any, name: str, default: bool) -> bool:
    """`send=false` as JSON or as form text."""
    if raw is None or raw == "":
        return default
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise Refused(f"{name} must be true or false")


def text(data: Mapping[str, Any], name: str, limit: int) -> str | None:
    raw = data.get(name)
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str | int):
        raise Refused(f"{name} must be text")
    value = str(raw).strip()
    if len(value) > limit or "\x00" in value:
        raise Refused(f"{name} must be at most {limit} characters of text")
    return value or None


def email(data: Mapping[str, Any], name: str = "email") -> str | None:
    value = text(data, name, MAX_EMAIL)
    if value is not None and (value.count("@") != 1 or " " in value or value.startswith("@")):
        raise Refused(f"{name} is not an e-mail address")
    return value.lower() if value else None


def nest(form: Mapping[str, Any]) -> dict[str, Any]:
    """A form-encoded body (`properties[State]=CA&expand[]=person`) in the JSON shape."""
    out: dict[str, Any] = {}
    for key, value in form.items():
        base, sep, rest = key.partition("[")
        if not sep:
            out[key] = value
        elif rest == "]":
            out.setdefault(base, []).append(value)
        elif isinstance(out.setdefault(base, {}), dict):
            out[base][rest.rstrip("]")] = value
    return out


@dataclass(frozen=True)
class PersonFacts:
    """What a person object says beyond the contact row."""

    last_sent_at: datetime | None = None
    last_responded_at: datetime | None = None
    next_survey_scheduled_at: datetime | None = None


def person_json(c: Contact, facts: PersonFacts | None = None) -> dict[str, Any]:
    f = facts or PersonFacts()
    return {
        "id": str(c.id),
        "name": c.name,
        "email": c.email,
        "phone_number": c.phone,
        "created_at": unix(c.created_at),
        "last_sent_at": unix(f.last_sent_at),
        "last_responded_at": unix(f.last_responded_at),
        "next_survey_scheduled_at": unix(f.next_survey_scheduled_at),
    }

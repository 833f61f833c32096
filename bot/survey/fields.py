"""Checking a request's fields, the same way for every caller (API, CSV, sandbox): each
refusal is an `Invalid` naming the field, answered 422 (or a CLI line naming the line)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bot.storage.db import refused_text


class Invalid(ValueError):
    """A request field is wrong: answered 422 naming the field (or a CLI line naming it)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


def text(
    data: Mapping[str, Any], key: str, where: str, limit: int, required: bool = False
) -> str | None:
    """A short text field, trimmed; None when absent or empty."""
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise Invalid(where, "is required")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise Invalid(where, "must be a string")
    out = str(value).strip()
    if (refused := refused_text(out)) is not None:
        raise Invalid(where, refused)
    if len(out) > limit:
        raise Invalid(where, f"must be at most {limit} characters")
    return out


def moment(raw: Any, where: str) -> datetime:
    """An RFC 3339 date-time with an offset, in UTC, within years 1900-2999 (a survey's due
    time is computed from it: nothing near Python's year 1 or 9999)."""
    try:
        parsed = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
        utc = parsed.astimezone(UTC) if parsed.tzinfo is not None else None
    except (ValueError, OverflowError):
        raise Invalid(where, "must be an RFC 3339 date-time") from None
    if utc is None:
        raise Invalid(where, "must include a time zone offset (or Z)")
    if not 1900 <= utc.year <= 2999:
        raise Invalid(where, "must be a date between 1900 and 2999")
    return utc


def check_json(value: Any, where: str, depth: int = 0) -> None:
    """Values the databases store as JSON: finite numbers, storable text, 8 levels at most."""
    if depth > 8:
        raise Invalid(where, "must be nested at most 8 levels deep")
    if isinstance(value, float) and not math.isfinite(value):
        raise Invalid(where, "numbers must be finite (no NaN or Infinity)")
    if isinstance(value, str) and (refused := refused_text(value)) is not None:
        raise Invalid(where, refused)
    if isinstance(value, dict):
        value = [*value, *value.values()]  # keys are text the database stores too
    for item in value if isinstance(value, list) else ():
        check_json(item, where, depth + 1)

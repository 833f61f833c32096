"""The staff alert queue: which responses alert, where alerts go, and the rows that carry them.

An alert is a row in `alerts` per (case, destination, kind), inserted when a response completes
(the `DetractorResponded` / `ResponseCompleted` handlers in `bot.staff`) and sent by the
scheduler (`scheduler.alerts.send_alerts`; URLs through `channels.apprise`): at least once,
deduplicated by the unique key, retried with backoff, paced per Telegram group, and still there
after a restart.

Destinations:
- "telegram:<chat id>": the interactive staff group (`STAFF_TELEGRAM_CHAT_ID`), a store's group
  from a survey route, or the escalation group;
- "url:<key>": a one-way Apprise URL from `STAFF_NOTIFY_URLS` or a survey route. The URL itself
  carries the destination's token, so only its hash is stored and it is never logged.

Survey options (`bot.definitions.OPTIONS`, validated there; stored in `Survey.options`):

    alert_on = ["detractor"]            # categories that alert ("passive", "promoter" too)
    alert_themes = ["returns_refunds"]  # any response with one of these themes alerts
    [[survey.routes]]                   # by purchase metadata: each store's manager group
    match = { store = "Polanco" }
    telegram_chat_id = "-1001234567890"
    notify_urls = ["mailto://…"]
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.config import Settings
from bot.storage.db import upsert_for
from bot.storage.models import Alert, AlertState
from channels import registry

# The channel whose group chats staff work cases from (cards, buttons, threaded replies). One
# today: a second would need the settings and destinations to say which channel a chat is on.
(STAFF_CHANNEL,) = registry.named(staff_chat=True)
TELEGRAM = f"{STAFF_CHANNEL}:"  # destination prefix of a staff chat (STAFF_TELEGRAM_CHAT_ID)
URL = "url:"
DEFAULT_ALERT_ON = ("detractor",)


def split_list(value: str | None) -> list[str]:
    return [v for v in re.split(r"[,\s]+", value or "") if v]


def url_key(url: str) -> str:
    """How a notification URL is named in the database and logs (it carries a token)."""
    return URL + hashlib.sha256(url.encode()).hexdigest()[:16]


def telegram_destination(chat_id: str | int) -> str:
    return f"{TELEGRAM}{chat_id}"


def telegram_chat(destination: str) -> str | None:
    return destination.removeprefix(TELEGRAM) if destination.startswith(TELEGRAM) else None


@dataclass(frozen=True)
class Rules:
    on: frozenset[str]
    themes: frozenset[str]

    def alerts(self, category: str, themes: Iterable[str]) -> bool:
        return category in self.on or bool(self.themes & set(themes))


def rules(options: Mapping[str, Any]) -> Rules:
    on = options.get("alert_on", DEFAULT_ALERT_ON)
    themes = options.get("alert_themes", ())
    return Rules(frozenset(str(c) for c in on), frozenset(str(t) for t in themes))


def _matches(match: Mapping[str, Any], meta: Mapping[str, Any]) -> bool:
    """Every key of `match` equals the purchase metadata's (case-insensitive for text);
    a list in `match` means any of its values."""

    def same(want: Any, have: Any) -> bool:
        if isinstance(want, list):
            return any(same(w, have) for w in want)
        return str(want).casefold() == str(have).casefold() if have is not None else False

    return all(same(want, meta.get(key)) for key, want in match.items())


def notify_urls(settings: Settings, options: Mapping[str, Any] | None = None) -> list[str]:
    """Every notification URL known: the global ones and every survey route's."""
    urls = split_list(settings.staff_notify_urls)
    for route in (options or {}).get("routes", []):
        urls += [u for u in route.get("notify_urls", []) if isinstance(u, str)]
    return urls


def destinations(
    settings: Settings, options: Mapping[str, Any], meta: Mapping[str, Any]
) -> list[str]:
    """Where a case of this survey and purchase is announced, in order, without repeats."""
    out: list[str] = []
    if settings.staff_telegram_chat_id:
        out.append(telegram_destination(settings.staff_telegram_chat_id))
    out += [url_key(u) for u in split_list(settings.staff_notify_urls)]
    for route in options.get("routes", []):
        if not isinstance(route, Mapping) or not _matches(route.get("match", {}), meta):
            continue
        if route.get("telegram_chat_id"):
            out.append(telegram_destination(str(route["telegram_chat_id"])))
        out += [url_key(u) for u in route.get("notify_urls", []) if isinstance(u, str)]
    return list(dict.fromkeys(out))


def escalation_destinations(settings: Settings) -> list[str]:
    chat = settings.staff_escalation_chat_id or settings.staff_telegram_chat_id
    return [telegram_destination(chat)] if chat else []


def staff_chats(settings: Settings, surveys_options: Iterable[Mapping[str, Any]]) -> set[str]:
    """Every Telegram chat whose members may act on cases."""
    chats = {c for c in (settings.staff_telegram_chat_id, settings.staff_escalation_chat_id) if c}
    for options in surveys_options:
        for route in options.get("routes", []):
            if isinstance(route, Mapping) and route.get("telegram_chat_id"):
                chats.add(str(route["telegram_chat_id"]))
    return chats


def enqueue(
    s: Session,
    *,
    case_id: int | None,
    destinations: Iterable[str],
    kind: str,
    now: datetime,
    payload: Mapping[str, Any] | None = None,
) -> int:
    """Insert one pending alert per destination; an existing (case, destination, kind) is kept
    as it is (redelivered events and racing workers alert once). Returns the rows inserted."""
    insert = upsert_for(s.get_bind().dialect.name)
    added = 0
    for dest in destinations:
        if case_id is None:
            # NULLs never conflict in a unique key: digests check first (one sender per tick).
            exists = s.scalar(
                select(Alert.id).where(
                    Alert.case_id.is_(None), Alert.destination == dest, Alert.kind == kind
                )
            )
            if exists is not None:
                continue
        stmt = (
            insert(Alert)
            .values(
                case_id=case_id,
                destination=dest,
                kind=kind,
                state=AlertState.PENDING,
                attempts=0,
                next_attempt_at=now,
                payload=dict(payload or {}),
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["case_id", "destination", "kind"])
            .returning(Alert.id)
        )
        if s.execute(stmt).scalar_one_or_none() is not None:
            added += 1
    return added


def url_for(settings: Settings, key: str, options: Iterable[Mapping[str, Any]]) -> str | None:
    """The configured URL whose hash is `key` (None when it was removed from the settings)."""
    for opts in [None, *options]:
        for url in notify_urls(settings, opts):
            if url_key(url) == key:
                return url
    return None

"""Everything a process needs, built once: settings, database, channels, event bus.

`bot.bootstrap` builds it for the web app, the worker and the CLI. This module imports no
feature package: features receive the Runtime, they are never imported by it."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from bot.config import Settings
from bot.definitions import SurveyDef
from bot.events import MessageBus
from bot.storage.db import Database
from bot.storage.models import utcnow
from channels.base import Channel, Inbound, Outbound

log = logging.getLogger(__name__)

# A group message: the runtime, the session, the message, its row id, now, and what `GroupCheck`
# answered before the transaction (None: may act; else the refusal to show).
GroupHook = Callable[["Runtime", Session, Inbound, int, datetime, str | None], list[Outbound]]
GroupCheck = Callable[["Runtime", Inbound], str | None]
CaseHook = Callable[["Runtime", Session, Inbound, int, datetime], list[Outbound] | None]


@dataclass
class Runtime:
    settings: Settings
    db: Database
    channels: dict[str, Channel]
    bus: MessageBus = field(default_factory=MessageBus)
    surveys: list[SurveyDef] = field(default_factory=list)
    # Set when there is work for the dispatcher loop (in-process serve mode waits on it).
    wake: threading.Event = field(default_factory=threading.Event)
    # The time source; tests drive it to test expiry, reminders and escalations.
    clock: Callable[[], datetime] = utcnow
    # Staff chats (groups) and customers with an open case are handled by the staff module.
    # `check_group` runs before the inbound message's transaction (it may ask the provider who
    # is in the chat); the other hooks run inside it and return replies to queue;
    # `on_case_message` returns None when the message is not for a case.
    check_group: GroupCheck | None = None
    on_group: GroupHook | None = None
    on_case_message: CaseHook | None = None

    def route(self, name: str) -> Channel | None:
        """The channel that verifies and parses webhooks posted to /webhooks/<name>."""
        for channel in self.channels.values():
            if getattr(channel, "route", channel.name) == name:
                return channel
        return None

    def close(self) -> None:
        for channel in self.channels.values():
            close = getattr(channel, "close", None)
            if close is not None:
                close()
        self.db.dispose()


class NotReady(RuntimeError):
    """The database cannot be used yet; the message says what to do."""

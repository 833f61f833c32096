"""Everything a process needs, built once: settings, database, channels, event bus.

The web app, the worker and the CLI each build one `Runtime`; nothing here imports a web
framework or a provider library (channel modules are loaded lazily by the registry)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from bot.config import Settings
from bot.db import Database
from bot.events import MessageBus, OutboxQueued
from bot.migrate import behind
from bot.models import utcnow
from bot.surveys import SurveyDef, load_surveys, sync_surveys
from channels import registry
from channels.base import Channel, Inbound, Outbound
from scheduler.ratelimit import Limiter, parse_rates

log = logging.getLogger(__name__)

# Advisory lock key for the start-up survey sync (any constant; "npsb" in ASCII).
SYNC_LOCK = 0x6E707362

GroupHook = Callable[["Runtime", Session, Inbound, int, datetime], list[Outbound]]
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
    # Each hook runs inside the inbound message's transaction and returns replies to queue;
    # `on_case_message` returns None when the message is not for a case.
    on_group: GroupHook | None = None
    limiter: Limiter | None = None
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


def build_runtime(
    settings: Settings, *, bus: MessageBus | None = None, sync: bool = True
) -> Runtime:
    rt = Runtime(
        settings=settings,
        db=Database(settings.database_url, pool_size=settings.database_pool_size),
        channels=registry.load(settings),
        bus=bus or MessageBus(),
        surveys=load_surveys(settings.surveys_file),
        limiter=Limiter(parse_rates(settings.send_rate_limits), settings.redis_url),
    )
    rt.bus.subscribe(OutboxQueued, lambda _e: rt.wake.set())
    from bot.staff import init_staff  # imports bot.service, which imports this module

    init_staff(rt)
    if sync:
        where = rt.db.engine.url.render_as_string(hide_password=True)
        try:
            # The write lock up front: gunicorn workers start together, and on SQLite a
            # deferred transaction that reads then writes fails at once (stale snapshot).
            with rt.db.session_for_update() as s:
                if rt.db.postgres:
                    # PostgreSQL has no database-wide write lock: two workers starting together
                    # would both insert a new survey (unique violation, a worker fails to boot).
                    s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SYNC_LOCK})
                if behind(s.connection()):
                    raise NotReady(
                        f"the database at {where} is behind this version: run `npsbot db upgrade`"
                    )
                sync_surveys(s, rt.surveys)
        except (OperationalError, ProgrammingError) as exc:
            rt.close()
            raise NotReady(
                f"the database at {where} is not ready (not migrated, or unreachable): "
                f"run `npsbot db upgrade` ({type(exc.orig).__name__})"
            ) from exc
        except NotReady:
            rt.close()
            raise
    return rt


class NotReady(RuntimeError):
    """The database cannot be used yet; the message says what to do."""

"""The one wiring point (after cosmicpython's bootstrap): settings in, a ready `Runtime` out.

The web app, the worker and every CLI command build their runtime here, so the table of events
and their handlers below is the whole list of what reacts to what."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from sqlalchemy import text
from sqlalchemy.exc import OperationalError, ProgrammingError

from bot import staff
from bot.config import Settings
from bot.definitions import load_surveys
from bot.events import (
    ContactErased,
    DetractorResponded,
    Event,
    MessageBus,
    OutboxQueued,
    ResponseCompleted,
)
from bot.inbound.spool import after_erasure
from bot.runtime import NotReady, Runtime
from bot.staff.chat import StaffChat
from bot.storage.db import Database
from bot.storage.migrate import behind
from bot.survey.surveys import Change, create_if_empty, diff_surveys
from channels import registry

# Advisory lock key for the start-up check and first-run survey creation ("npsb" in ASCII).
SYNC_LOCK = 0x6E707362


def _wake(rt: Runtime, _event: Event) -> None:
    rt.wake.set()


def _erased(rt: Runtime, event: Event) -> None:
    assert isinstance(event, ContactErased)
    after_erasure(rt, event.addresses)


# What happens after a transaction commits, event by event.
HANDLERS: dict[type[Event], list[Callable[[Runtime, Event], None]]] = {
    OutboxQueued: [_wake],
    DetractorResponded: [staff.on_detractor],
    ResponseCompleted: [staff.on_completed],
    ContactErased: [_erased],
}


def build_runtime(
    settings: Settings, *, bus: MessageBus | None = None, sync: bool = True
) -> Runtime:
    rt = Runtime(
        settings=settings,
        db=Database(settings.database_url, pool_size=settings.database_pool_size),
        channels=registry.load(settings),
        bus=bus or MessageBus(),
        surveys=load_surveys(settings.surveys_file),
    )
    for kind, handlers in HANDLERS.items():
        for handler in handlers:
            rt.bus.subscribe(kind, partial(handler, rt))
    # Staff chats (groups) and customers with an open case are the staff side's.
    chat = StaffChat()  # its getChatMember cache lives as long as this runtime
    rt.check_group = chat.check
    rt.on_group = chat.on_group
    rt.on_case_message = chat.on_case_message
    if sync:
        _sync(rt)
    return rt


def _sync(rt: Runtime) -> None:
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
            # Never rewrites definitions (owners and `surveys import` do); a first run needs one.
            create_if_empty(s, rt.surveys)
    except (OperationalError, ProgrammingError) as exc:
        rt.close()
        raise NotReady(
            f"the database at {where} is not ready (not migrated, or unreachable): "
            f"run `npsbot db upgrade` ({type(exc.orig).__name__})"
        ) from exc
    except NotReady:
        rt.close()
        raise


def survey_drift(rt: Runtime) -> list[Change]:
    """The surveys whose definition in SURVEYS_FILE differs from the database's (read-only)."""
    with rt.db.session() as s:
        return [c for c in diff_surveys(s, rt.surveys) if c.status != "unchanged"]

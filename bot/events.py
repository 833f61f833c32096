"""Domain events (after cosmicpython): the service records what happened; handlers react after
the transaction commits. Tests swap in a recording bus."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    pass


@dataclass(frozen=True)
class ResponseCompleted(Event):
    response_id: int
    invitation_id: int
    score: int
    category: str


@dataclass(frozen=True)
class DetractorResponded(Event):
    """A response completed with a score that staff should follow up (see the staff alerts)."""

    response_id: int
    case_id: int


@dataclass(frozen=True)
class ContactOptedOut(Event):
    contact_id: int
    channel: str


@dataclass(frozen=True)
class ContactErased(Event):
    """A customer erased themselves from the chat: what named them (phone, chat id, addresses),
    for what follows the commit (`bot.inbound.spool.after_erasure`)."""

    addresses: tuple[str, ...]


@dataclass(frozen=True)
class OutboxQueued(Event):
    """New outbound messages wait in the outbox: wake the sender."""


Handler = Callable[[Event], None]


class MessageBus:
    def __init__(self) -> None:
        self.handlers: dict[type[Event], list[Handler]] = defaultdict(list)

    def subscribe(self, kind: type[Event], handler: Handler) -> None:
        self.handlers[kind].append(handler)

    def publish(self, *events: Event) -> None:
        for event in events:
            for handler in self.handlers[type(event)]:
                try:
                    handler(event)
                except Exception:
                    # A failing handler must not undo what is already committed; the work it
                    # failed to do is a row that the scheduler retries.
                    log.exception("event handler %s failed for %s", handler, event)


class RecordingBus(MessageBus):
    """For tests: remembers every event published."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[Event] = []

    def publish(self, *events: Event) -> None:
        self.events.extend(events)
        super().publish(*events)

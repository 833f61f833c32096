"""A fake channel that counts what it sends, for the dispatcher's tests and benchmarks.

Each `send` appends the message's ref (`inv-<id>` for a survey) and the sending process's id as
one line to a file opened with O_APPEND, before it returns: the record is outside npsbot's
database and survives the sending process being killed, so a test can tell exactly which
invitations really went out, from which process, and how often. One `os.write` of a short
line with O_APPEND is atomic, so threads and processes can share the file.

Configured from the environment (a worker subprocess builds it through the registry, like a
plugin channel — see `tests/fakes/run_worker.py`):

- ``COUNTING_CHANNEL_FILE``: the record file (required);
- ``COUNTING_CHANNEL_LATENCY``: seconds each send takes, like a provider's API round trip
  (default 0).
"""

from __future__ import annotations

import itertools
import os
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from channels.base import Outbound, Parsed, Sent, WebRequest, WebResponse

if TYPE_CHECKING:
    from bot.config import Settings

NAME = "counting"


class CountingChannel:
    name = NAME
    route = NAME
    supports_buttons = False
    inline_replies = False

    def __init__(self, path: str | Path, latency: float = 0.0) -> None:
        self.path = Path(path)
        self.latency = latency
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._pid = os.getpid()
        # Provider ids unique across processes, restarts and threads (`next` on a count is
        # atomic in CPython), without a uuid4 per send: the fake is part of what is measured.
        self._prefix = f"cnt-{uuid.uuid4().hex[:16]}-"
        self._ids = itertools.count(1)

    def verify(self, request: WebRequest) -> bool:
        return False  # sends only: nothing ever arrives on this channel

    def parse(self, request: WebRequest) -> Parsed:
        return Parsed()

    def respond(self, request: WebRequest, replies: Sequence[Outbound]) -> WebResponse:
        return WebResponse(200)

    def send(self, msg: Outbound) -> Sent:
        if self.latency:
            time.sleep(self.latency)
        n = next(self._ids)
        os.write(self._fd, f"{msg.ref or msg.to} {self._pid}\n".encode())
        return Sent(provider_id=f"{self._prefix}{n}")

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def build(settings: Settings) -> CountingChannel | None:
    path = os.environ.get("COUNTING_CHANNEL_FILE")
    if not path:
        return None
    return CountingChannel(path, float(os.environ.get("COUNTING_CHANNEL_LATENCY", "0")))


def records(path: str | Path, prefix: str = "inv-") -> list[tuple[int, int]]:
    """(invitation id, sending pid) for each survey sent, in the order they were sent; with
    `prefix="reply-"`, (n, pid) for each message sent to the address `reply-<n>`."""
    p = Path(path)
    if not p.exists():
        return []
    out = []
    for line in p.read_text().splitlines():
        ref, _, pid = line.partition(" ")
        if ref.startswith(prefix) and pid:
            out.append((int(ref[len(prefix) :]), int(pid)))
    return out


def sent_counts(path: str | Path, prefix: str = "inv-") -> Counter[int]:
    """How many times each invitation id (or `reply-<n>` address) was sent."""
    return Counter(n for n, _pid in records(path, prefix))

"""Running python-telegram-bot's coroutines from sync code (Flask threads, the dispatcher).

python-telegram-bot is asyncio-only. A `Runner` keeps ONE long-lived event loop in a daemon
thread and sync code submits coroutines to it (`asyncio.run_coroutine_threadsafe`). No
`asyncio.run` per message: an httpx client bound to a finished loop fails with "Event loop is
closed". The loop starts on first use; a forked child (gunicorn) starts its own.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

from telegram import error as tg

T = TypeVar("T")


class Runner:
    """One event loop in one daemon thread, started on first use, stopped by `stop`."""

    def __init__(self, name: str = "telegram-loop") -> None:
        self.name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pid = 0

    @property
    def thread(self) -> threading.Thread | None:
        return self._thread

    def running(self) -> bool:
        """Is the loop alive in this process? (A forked child inherits it, not its thread.)"""
        return self._pid == os.getpid() and self._thread is not None and self._thread.is_alive()

    def _started(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or not self.running():
                loop = asyncio.new_event_loop()
                self._thread = threading.Thread(
                    target=_forever, args=(loop,), name=self.name, daemon=True
                )
                self._loop, self._pid = loop, os.getpid()
                self._thread.start()
            return self._loop

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self._started())

    def run(self, coro: Coroutine[Any, Any, T], limit: float) -> T:
        """Run on the loop and wait; `limit` only guards against a hung loop."""
        future = self.submit(coro)
        try:
            return future.result(timeout=limit)
        except FutureTimeout:
            future.cancel()
            raise tg.TimedOut("no answer from the Bot API in time") from None

    def wait(self, future: Future[T], stop: threading.Event) -> T | None:
        """Wait for a long call (a long poll), cancelling it as soon as `stop` is set."""
        while True:
            try:
                return future.result(timeout=0.2)
            except FutureTimeout:
                if stop.is_set():
                    future.cancel()
                    return None
            except asyncio.CancelledError:
                return None

    def stop(self) -> None:
        """Stop the loop and close it (a later `submit` starts a new one)."""
        with self._lock:
            loop, thread = self._loop, self._thread
            if loop is None or thread is None or not self.running():
                return
            self._loop = self._thread = None
        loop.call_soon_threadsafe(loop.stop)
        if threading.current_thread() is not thread:
            thread.join(timeout=2)


def _forever(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        loop.close()

"""Delighted's official Python client, unchanged but for `delighted.api_key` and
`delighted.api_base_url`, against npsbot served on a loopback port (SMS and WhatsApp configured
at a dead address: nothing is sent in these tests)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import delighted
import pytest
from flask import Flask
from werkzeug.serving import make_server

from bot.accounts.apikeys import create_key
from bot.events import RecordingBus
from bot.runtime import Runtime
from tests.conftest import Clock
from tests.helpers import surveyed_app

SURVEYS = """
[[survey]]
key = "post-purchase"
name = "After a purchase"
delay_minutes = 120
channels = ["whatsapp", "sms"]
"""


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """The app on a free loopback port, in a thread (as tests/e2e/web/browser.py's, but polled
    every 20 ms: shutting down does not wait half a second per test)."""
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_port}"
    finally:
        srv.shutdown()
        thread.join()
        srv.server_close()


@pytest.fixture
def app(database_url: str, clock: Clock, bus: RecordingBus, tmp_path: Path) -> Iterator[Flask]:
    with surveyed_app(database_url, clock, bus, tmp_path / "surveys.toml", SURVEYS) as app:
        yield app


@pytest.fixture
def key(rt: Runtime) -> str:
    with rt.db.session_for_update() as s:
        return create_key(s, "crm", rt.clock())


@pytest.fixture
def client(app: Flask, key: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The `delighted` module, pointed at npsbot as its README says to point it at Delighted."""
    with serving(app) as base:
        monkeypatch.setattr(delighted, "api_key", key)
        monkeypatch.setattr(delighted, "api_base_url", f"{base}/delighted/v1/")
        monkeypatch.setattr(delighted, "shared_client", None)  # built from the two above
        yield delighted

"""What every browser test shares: Debian's Chromium driven by Playwright (or a skip), a real
server on a free port, and a log-in."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from flask import Flask
from werkzeug.serving import make_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "correct horse battery"

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None  # type: ignore[assignment]

# Chromium and Playwright, or a skip; SQLite only (the browser adds nothing per database).
pytestmark = [
    pytest.mark.skipif(sync_playwright is None, reason="playwright is not installed (pip)"),
    pytest.mark.skipif(
        not (Path(CHROMIUM).exists() or shutil.which("chromium")),
        reason=f"no Chromium at {CHROMIUM}: run `make browser-deps` (apt-get install chromium)",
    ),
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """The app on a free loopback port, in a thread; its base URL."""
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_port}"
    finally:
        srv.shutdown()
        thread.join()
        srv.server_close()


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium, closed after."""
    assert sync_playwright is not None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def log_in(page: Page, server: str, name: str, password: str = PASSWORD) -> None:
    """Log in to the dashboard on `page`; it then shows the overview."""
    page.goto(f"{server}/dashboard/login")
    page.fill("#username", name)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/dashboard/")

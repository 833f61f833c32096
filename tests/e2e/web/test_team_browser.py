"""The team page on a 375 px phone in Chromium: an owner makes a key, the copy button puts it on
the clipboard, the key is revoked after its confirmation step, and nothing widens the page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from bot.accounts.users import create_user
from bot.runtime import Runtime
from bot.storage.models import StaffRole
from tests.conftest import Clock
from tests.e2e.web.browser import PASSWORD, chromium, pytestmark, serving

__all__ = ["pytestmark"]  # Chromium and Playwright or a skip; SQLite only, like test_browser
WIDTH = 375


@pytest.fixture
def server(app: Flask, rt: Runtime, clock: Clock) -> Iterator[str]:
    with rt.db.session() as s:
        create_user(s, "ana", PASSWORD, clock(), StaffRole.OWNER)
        create_user(s, "a-rather-long.name@example.com", PASSWORD, clock(), StaffRole.AGENT)
    with serving(app) as url:
        yield url


def test_an_owner_copies_a_new_key_and_revokes_it_on_a_phone(server: str, tmp_path: Path) -> None:
    with chromium() as browser:
        context = browser.new_context(
            viewport={"width": WIDTH, "height": 800}, is_mobile=True, has_touch=True
        )
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
        page = context.new_page()
        page.goto(f"{server}/dashboard/login?lang=en")
        page.fill("#username", "ana")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.goto(f"{server}/dashboard/team")
        page.fill("#new-key input[name=name]", "shop")
        page.click("#new-key button[type=submit]")
        key = page.input_value("#secret-value")
        assert key.startswith("nps_")
        page.click("#copy")
        page.wait_for_function("document.getElementById('copy').textContent === 'Copied'")
        assert page.evaluate("navigator.clipboard.readText()") == key
        page.click("[data-manage='a-rather-long.name@example.com'] summary")
        wide = page.evaluate("document.documentElement.scrollWidth")
        page.screenshot(path=str(tmp_path / "team-phone.png"), full_page=True)
        assert wide <= WIDTH, f"the page is {wide}px wide on a {WIDTH}px phone"
        page.click("[data-key='shop'] summary")
        page.click("[data-key='shop'] button[name=confirm]")
        assert "The key shop is revoked" in page.inner_text("main")
        assert key not in page.content()

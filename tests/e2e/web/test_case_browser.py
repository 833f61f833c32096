"""The whole loop of a case in a real headless browser (Debian's Chromium driven by Playwright)
against a real server, with the fake Telegram Bot API as the staff chat:

a detractor answers in the sandbox phone → an agent opens the case from the dashboard's open
cases → replies → the reply reaches the phone → the customer answers → the answer shows on the
case page → the agent resolves with an outcome → the staff chat's card is edited to say so.
A viewer opens the same page and finds no forms.

Skips when Chromium or Playwright is missing (`make browser-deps` installs Chromium).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask

from bot.accounts.users import create_user
from bot.runtime import Runtime
from bot.storage.models import StaffRole
from bot.web.app import create_app
from scheduler.loop import tick
from tests.conftest import Clock, make_settings
from tests.e2e.channels.rows_telegram import settings as telegram_settings
from tests.e2e.staff.world import STAFF, StaffBotApi
from tests.e2e.web.browser import chromium, pytestmark, serving
from tests.fakes.base import SPECS

__all__ = ["pytestmark"]  # the same skips as the dashboard's browser test

PASSWORD = "correct horse battery"
ZONE = "America/Mexico_City"


@pytest.fixture
def telegram() -> Iterator[StaffBotApi]:
    if not SPECS.is_dir():
        pytest.skip(f"provider specs not found at {SPECS}")
    with StaffBotApi() as fake:
        yield fake


@pytest.fixture
def staffed(database_url: str, clock: Clock, telegram: StaffBotApi) -> Iterator[Flask]:
    env = make_settings(database_url, **telegram_settings(telegram.url))
    app = create_app(env | {"STAFF_TELEGRAM_CHAT_ID": STAFF})
    rt: Runtime = app.extensions["npsbot"]
    rt.clock = clock
    with rt.db.session() as s:
        create_user(s, "ana", PASSWORD, clock(), StaffRole.AGENT)
        create_user(s, "luis", PASSWORD, clock(), StaffRole.VIEWER)
    yield app
    rt.close()


@pytest.fixture
def server(staffed: Flask) -> Iterator[str]:
    with serving(staffed) as url:
        yield url


def edits(telegram: StaffBotApi) -> list[str]:
    assert telegram.spec_problems == []
    return [
        str(r.form["text"]) for r in telegram.requests if telegram.method(r) == "editMessageText"
    ]


def test_an_agent_answers_a_detractor_from_the_case_page_and_resolves_it(
    server: str, staffed: Flask, clock: Clock, telegram: StaffBotApi
) -> None:
    rt: Runtime = staffed.extensions["npsbot"]
    clock.now = datetime(2026, 11, 22, 16, 0, tzinfo=UTC)
    with chromium() as browser:
        phone = browser.new_context(timezone_id=ZONE).new_page()
        phone.goto(f"{server}/sandbox")
        phone.click("button.primary")
        phone.wait_for_selector("#who:has-text('sandbox-')")
        tick(rt)
        phone.click("#chat .keys button:text-is('3')", timeout=5000)
        phone.wait_for_selector("#chat .out >> nth=1")  # the why-question
        phone.fill("#text", "El pedido llegó frío y tarde")
        phone.click("#sendbtn")
        phone.wait_for_selector("#chat .out >> nth=2")  # the thanks
        tick(rt)  # the case's card goes to the staff chat
        assert [telegram.method(r) for r in telegram.requests] == ["sendMessage"]

        desk = browser.new_page(viewport={"width": 390, "height": 844})
        log_in(desk, server, "ana")
        desk.click("#cases tr[data-case] a")
        desk.wait_for_selector("#timeline")
        assert "El pedido llegó frío y tarde" in desk.inner_text("#answer")
        desk.fill("#reply-text", "Hola, soy Ana del equipo. ¿Te llamamos hoy?")
        desk.click("#reply-form button")
        desk.wait_for_selector(".notice")
        tick(rt)  # the outbox: the reply to the phone, the card's edit to the chat
        assert "Answered by ana" in edits(telegram)[-1]

        phone.wait_for_selector("#chat .out:has-text('¿Te llamamos hoy?')", timeout=5000)
        phone.fill("#text", "Sí, después de las 5")
        phone.click("#sendbtn")
        phone.wait_for_selector("#chat .in:has-text('Sí, después de las 5')")

        desk.reload()
        desk.wait_for_selector("#timeline li.in:has-text('Sí, después de las 5')")
        desk.select_option("#resolve-outcome", "called_back")
        desk.click("#resolve-form button")
        desk.wait_for_selector("#case-status:has-text('Resolved')")
        assert desk.evaluate("document.documentElement.scrollWidth") <= 390
        tick(rt)
        assert "Resolved by ana · 📞 Called back" in edits(telegram)[-1]

        viewer = browser.new_context().new_page()
        log_in(viewer, server, "luis")
        viewer.goto(desk.url.split("#")[0])
        viewer.wait_for_selector("#timeline li.in:has-text('Sí, después de las 5')")
        assert viewer.locator("main form").count() == 0
        assert viewer.locator("#act").count() == 0


def log_in(page: Any, server: str, name: str) -> None:
    page.goto(f"{server}/dashboard/login?lang=en")
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.press("#password", "Enter")
    page.wait_for_selector("#who")

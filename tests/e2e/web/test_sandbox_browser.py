"""The sandbox played in a real headless browser (Debian's Chromium driven by Playwright), with
the server's clock at several hours of the day and the browser in Mexico City.

Skips when Chromium or Playwright is missing (`make browser-deps` installs Chromium).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask import Flask

from bot.runtime import Runtime
from scheduler.loop import tick
from tests.conftest import Clock, at_hours
from tests.e2e.web.browser import chromium, pytestmark, serving

__all__ = ["pytestmark"]  # the same skips as the dashboard's browser test

ZONE = "America/Mexico_City"
QUESTION = "¿qué tan probable es que nos recomiendes"


@pytest.fixture
def server(app: Flask) -> Iterator[str]:
    with serving(app) as url:
        yield url


@at_hours
def test_buy_get_the_question_tap_a_score_give_the_why_get_the_thanks(
    server: str, rt: Runtime, clock: Clock
) -> None:
    with chromium() as browser:
        page = browser.new_context(timezone_id=ZONE).new_page()
        page.goto(f"{server}/sandbox")
        assert page.inner_text("#tz") == ZONE
        page.click("button.primary")
        page.wait_for_selector("#who:has-text('sandbox-')")
        tick(rt)  # the scheduler's next second
        page.wait_for_selector(f"#chat .out:has-text('{QUESTION}')")
        page.click("#chat .keys button:text-is('9')", timeout=5000)
        page.wait_for_selector("#chat .out:has-text('¿Qué es lo que más te gusta')")
        page.fill("#text", "La atención del personal")
        page.click("#sendbtn")
        page.wait_for_selector("#chat .out:has-text('¡Gracias! Nos alegra mucho')")
        page.wait_for_selector("#stored:has-text('\"completed\": true')")
        stored = page.inner_text("#stored")
        assert '"score": 9' in stored and '"category": "promoter"' in stored


def test_a_tester_who_keeps_the_quiet_hours_is_told_when_the_survey_arrives(
    server: str, rt: Runtime, clock: Clock
) -> None:
    clock.now = datetime(2026, 11, 22, 3, 30, tzinfo=UTC)  # 21:30 in Mexico City: quiet
    with chromium() as browser:
        page = browser.new_context(timezone_id=ZONE).new_page()
        page.goto(f"{server}/sandbox")
        page.check("#quiet")
        page.click("button.primary")
        note = page.wait_for_selector("#pending:has-text('arrives at')")
        assert note is not None
        assert "2026-11-22 09:00 (America/Mexico_City)" in note.inner_text()
        tick(rt)
        page.wait_for_timeout(1000)  # a poll or so: still waiting, and still saying so
        assert page.locator("#chat .out").count() == 0
        assert "09:00 (America/Mexico_City)" in page.inner_text("#pending")
        clock.now = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)  # 09:00 there
        tick(rt)
        page.wait_for_selector(f"#chat .out:has-text('{QUESTION}')")


def test_the_staff_chat_beside_the_phone_closes_the_loop(
    server: str, rt: Runtime, clock: Clock
) -> None:
    """A detractor's card appears in the pretend staff chat; staff take it and ask, the phone
    gets the question, the customer's answer comes back into the thread, staff resolve it."""
    clock.now = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)
    with chromium() as browser:
        page = browser.new_context(timezone_id=ZONE).new_page()
        page.goto(f"{server}/sandbox")
        page.click("button.primary")
        page.wait_for_selector("#who:has-text('sandbox-')")
        tick(rt)
        page.click("#chat .keys button:text-is('3')", timeout=5000)
        page.wait_for_selector("#chat .out:has-text('¿Qué')")
        page.fill("#text", "El pedido llegó tarde")
        page.click("#sendbtn")
        card = page.wait_for_selector("#staffcard:has-text('Detractor 3/10')")
        assert card is not None and "El pedido llegó tarde" in card.inner_text()
        page.click("#staffcard button:has-text('Take it')")
        page.wait_for_selector("#staffcard:has-text('Taken by Sandbox staff')")
        page.fill("#stafftext", "¿Qué pasó?")
        page.click("#staffbtn")
        page.wait_for_selector("#staffchat .staffmsg:has-text('¿Qué pasó?')")
        tick(rt)  # the outbox sends the reply to the phone
        page.wait_for_selector("#chat .out:text-is('¿Qué pasó?')")
        page.fill("#text", "Llegó frío y nadie avisó")
        page.click("#sendbtn")
        page.wait_for_selector("#staffchat .custmsg:has-text('Llegó frío y nadie avisó')")
        page.click("#staffcard button:has-text('Resolved')")
        page.wait_for_selector("#staffcard:has-text('Resolved by Sandbox staff')")
        page.click("#staffcard button:has-text('Called back')")
        page.wait_for_selector("#staffcard:has-text('Called back ·')")

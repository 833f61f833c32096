"""The web survey page on a phone in a real browser (Chromium, 375 px wide): tap 3, write the
why, see the thanks; and the same with the keyboard alone (Tab to a score, Enter, type, Enter)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from bot.runtime import Runtime
from bot.storage.models import Response
from bot.survey.weblink import start_web_survey
from tests.e2e.web.browser import chromium, pytestmark
from tests.e2e.web.test_sandbox_browser import server

__all__ = ["pytestmark", "server"]  # the dashboard browser test's skips; a real server

PHONE = {"width": 375, "height": 740}


def test_a_phone_taps_3_writes_why_and_sees_thanks_then_a_keyboard_does_the_same(
    server: str, rt: Runtime, tmp_path: Path
) -> None:
    first = start_web_survey(rt, "post-purchase", {"store": "Centro"}, rt.clock(), base=server)
    second = start_web_survey(rt, "post-purchase", {"store": "Norte"}, rt.clock(), base=server)
    with chromium() as browser:
        phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
        page = phone.new_page()
        page.goto(first)
        assert page.get_attribute("html", "lang") == "es"
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        box = page.locator("#score-10").bounding_box()
        assert box is not None and box["x"] + box["width"] <= 375  # all 11 on screen
        assert box["height"] >= 44  # a thumb's target
        page.screenshot(path=str(tmp_path / "score.png"), full_page=True)
        page.tap("#score-3")
        page.wait_for_selector("label[for=why]:has-text('¿Cuál es el motivo principal')")
        page.fill("#why", "El pedido llegó tarde y frío")
        page.tap("#send")
        page.wait_for_selector("#thanks:has-text('Gracias por contarnos')")
        page.screenshot(path=str(tmp_path / "thanks.png"), full_page=True)

        keys = browser.new_context(viewport=PHONE).new_page()
        keys.goto(second)
        for _ in range(10):  # the tenth stop is the 9
            keys.keyboard.press("Tab")
        assert keys.evaluate("document.activeElement.id") == "score-9"
        outline = keys.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline == "solid"  # the focus is visible
        keys.keyboard.press("Enter")
        keys.wait_for_selector("#why")
        assert keys.evaluate("document.activeElement.id") == "why"  # focus where to type
        keys.keyboard.type("La atención del personal")
        keys.keyboard.press("Tab")
        assert keys.evaluate("document.activeElement.id") == "send"
        keys.keyboard.press("Enter")
        keys.wait_for_selector("#thanks:has-text('Nos alegra')")
    with rt.db.session() as s:
        got = s.execute(
            select(Response.score, Response.channel, Response.comment).order_by(Response.id)
        ).all()
    assert [tuple(r) for r in got] == [
        (3, "web", "El pedido llegó tarde y frío"),
        (9, "web", "La atención del personal"),
    ]

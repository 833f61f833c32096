"""An owner edits a survey in a real browser (Chromium, Playwright; the dashboard in Portuguese):
the live SMS segment count follows the typing and counts as `channels.sms_segments` does, and
the next Portuguese survey a sandbox customer gets carries the new question."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from bot.accounts.users import create_user
from bot.runtime import Runtime
from bot.storage.models import StaffRole
from scheduler.loop import tick
from tests.conftest import Clock
from tests.e2e.web.browser import PASSWORD, chromium, pytestmark
from tests.e2e.web.test_sandbox_browser import server
from tests.integration.insights.seed import api_key
from tests.unit.channels.test_sms_segments import TABLE

__all__ = ["pytestmark", "server"]  # the dashboard browser test's skips; a real server

COUNT = "t => { const s = window.smsSegments(t); return [s.encoding, s.units, s.count]; }"
QUESTION = "Oi, {business}! De 0 a 10, você nos indicaria a um amigo? Responda só o número."


def test_an_owner_changes_the_portuguese_question_and_the_next_pt_survey_uses_it(
    server: str, app: Flask, rt: Runtime, clock: Clock, tmp_path: Path
) -> None:
    with rt.db.session() as s:
        create_user(s, "dona", PASSWORD, clock(), StaffRole.OWNER)
    with chromium() as browser:
        page = browser.new_context(locale="pt-BR").new_page()
        page.goto(f"{server}/dashboard/surveys/post-purchase")
        page.fill("#username", "dona")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.goto(f"{server}/dashboard/surveys/post-purchase")
        field = page.locator("textarea[name='texts.pt.question']")
        assert "Considerando toda a sua experiência" in (field.get_attribute("placeholder") or "")
        counted = [page.evaluate(COUNT, text) for text, *_ in TABLE]
        assert counted == [[enc, units, count] for _text, enc, units, count in TABLE]

        count = field.locator("xpath=..").locator(".sms")
        assert "UCS-2" in count.inner_text()  # the default text's count, before typing
        field.fill("Olá! De 0 a 10?")
        assert count.inner_text().startswith("1 segmento(s) SMS, UCS-2")
        field.fill("Oi " * 60)
        assert count.inner_text() == "2 segmento(s) SMS, GSM-7: 180 caracteres"
        field.fill(QUESTION)
        page.set_viewport_size({"width": 375, "height": 800})  # a phone: nothing sticks out
        page.screenshot(path=str(tmp_path / "survey.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        page.click("#save")
        page.wait_for_selector("#saved")

        buyer = app.test_client()
        r = buyer.post(
            "/api/v1/purchases",
            headers=api_key(rt),
            json={
                "order_id": "BR-1",
                "survey": "post-purchase",
                "customer": {
                    "id": "C-BR",
                    "name": "João",
                    "language": "pt",
                    "sandbox": "sandbox-joao",
                },
                "channels": ["sandbox"],
            },
        )
        assert r.status_code == 201, r.json
        tick(rt)
        phone = browser.new_page()
        phone.goto(f"{server}/sandbox?address=sandbox-joao")
        shown = QUESTION.replace("{business}", rt.settings.business_name)
        phone.wait_for_selector(f"#chat .out:has-text('{shown[:40]}')")
        assert shown in phone.inner_text("#chat")

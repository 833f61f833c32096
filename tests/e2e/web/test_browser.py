"""The dashboard in a real headless browser (Debian's Chromium driven by Playwright).

Skips when Chromium or Playwright is missing (`make browser-deps` installs Chromium).
`UPDATE_SCREENSHOTS=1` writes the README's screenshots to docs/screenshots/.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from flask import Flask
from sqlalchemy import select

from bot.accounts.users import create_user
from bot.runtime import Runtime
from bot.storage.models import Case, StaffRole
from tests.conftest import Clock
from tests.e2e.web.browser import PASSWORD, chromium, pytestmark, serving

if TYPE_CHECKING:
    from playwright.sync_api import Page
from tests.integration.insights.seed import Answer, api_key, seed

SHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"

__all__ = ["pytestmark"]  # Chromium and Playwright or a skip; SQLite only

COMMENTS = {
    "detractor": [
        ("El pedido llegó tarde y frío", ["delivery"]),
        ("Muy caro para lo que es", ["price"]),
        ("Nadie contestó en soporte", ["customer_service"]),
        ("Late delivery, again", ["delivery"]),
    ],
    "passive": [("Bien, pero la app es lenta", ["app_website"]), ("Ok, a bit pricey", ["price"])],
    "promoter": [
        ("¡Excelente atención de Marta!", ["staff_attitude"]),
        ("Rápido y todo perfecto", ["delivery"]),
        ("Great quality coffee", ["product_quality"]),
        ("Ótimo atendimento", ["staff_attitude"]),
    ],
}


def week_of_answers(clock: Clock) -> list[Answer]:
    rnd = random.Random(9)
    answers = []
    for i in range(260):
        day = i % 7
        score = rnd.choice([10, 10, 9, 9, 9, 8, 8, 7, 6, 5, 3, 10, 9, 8, 2, 9])
        if day >= 5 and rnd.random() < 0.3:
            score = min(10, score + 2)  # the week improves a bit
        cat = "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"
        comment, themes = rnd.choice(COMMENTS[cat]) if rnd.random() < 0.7 else (None, [])
        answers.append(
            Answer(
                score,
                clock() - timedelta(days=6 - day, hours=rnd.randint(0, 10)),
                channel=rnd.choice(["whatsapp", "whatsapp", "sms", "telegram"]),
                comment=comment,
                themes=themes,
                store=rnd.choice(["Centro", "Norte", "Aeropuerto"]),
                language=rnd.choice(["es", "es", "en", "pt"]),
                case=rnd.choice(["open", "taken", "resolved"]) if cat == "detractor" else None,
            )
        )
    answers += [
        Answer(
            None, clock() - timedelta(days=d % 7), channel=["sms", "whatsapp", "telegram"][d % 3]
        )
        for d in range(60)
    ]
    return answers


@pytest.fixture
def server(app: Flask, rt: Runtime, clock: Clock) -> Iterator[str]:
    seed(rt, week_of_answers(clock))
    worked_on(rt)
    with rt.db.session() as s:
        create_user(s, "owner", PASSWORD, clock(), StaffRole.AGENT)
    runtime = app.extensions["npsbot"]
    runtime.settings = replace(runtime.settings, nps_benchmark="Retail=45")
    with serving(app) as url:
        yield url


def worked_on(rt: Runtime) -> None:
    """Taken and resolved cases with the times staff took (the follow-up card has numbers)."""
    rnd = random.Random(5)
    agents = ["Marta", "Luis", "Rita"]
    with rt.db.session_for_update() as s:
        for case in s.scalars(select(Case).where(Case.status != "open")):
            case.assignee = rnd.choice(agents)
            case.assignee_id = f"telegram:{agents.index(case.assignee)}"
            case.taken_at = case.created_at + timedelta(minutes=rnd.randint(4, 90))
            if case.status == "resolved":
                case.resolved_at = case.taken_at + timedelta(hours=rnd.randint(1, 30))


def nps_shown(page: Page) -> float:
    value = page.get_attribute("#nps-value", "data-nps")
    assert value
    return float(value)


def test_owner_logs_in_filters_by_channel_and_sees_the_api_numbers(
    server: str, rt: Runtime, app: Flask, tmp_path: Path
) -> None:
    headers = api_key(rt)
    client = app.test_client()

    def api(query: str) -> Any:
        return client.get(f"/api/v1/nps?{query}", headers=headers).json

    shots = SHOTS if os.environ.get("UPDATE_SCREENSHOTS") else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{server}/dashboard?interval=day")
        assert "/dashboard/login" in page.url
        page.fill("#username", "owner")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("#nps-value")
        everything = api("from=2026-08-25")
        assert nps_shown(page) == everything["nps"]
        assert page.inner_text("#nps-responses") == str(everything["responses"])
        page.screenshot(path=str(shots / "dashboard.png"), full_page=True)

        page.select_option("#filter-channel", "sms")
        page.click("#apply")
        page.wait_for_url("**channel=sms**")
        sms = api("from=2026-08-25&channel=sms")
        assert nps_shown(page) == sms["nps"] and sms["responses"] < everything["responses"]
        assert page.locator("#by-channel tr[data-value]").count() == 1

        phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
        phone.context.add_cookies(page.context.cookies())
        phone.goto(f"{server}/dashboard?interval=day")
        phone.wait_for_selector("#nps-value")
        assert nps_shown(phone) == everything["nps"]
        # One column on a phone: nothing wider than the screen.
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page is {width}px wide on a 390px phone"
        phone.screenshot(path=str(shots / "dashboard-phone.png"), full_page=False)

        # The language menu: the same numbers, in Portuguese, then in Spanish.
        for lang, title in (("pt", "Visão geral"), ("es", "Resumen")):
            with page.expect_navigation():
                page.select_option("#language select", lang)
            assert page.get_attribute("html", "lang") == lang
            assert page.inner_text("nav.menu a.on") == title
            assert nps_shown(page) == sms["nps"]  # the filters stay


LONG_COMMENT = (
    "https://tienda.example.com/pedidos/"
    + "A1b2C3d4" * 40
    + " "
    + "inaceptable" * 60
    + " "
    + "la entrega tardó muchísimo " * 80
)[:3000]


@pytest.fixture
def long_comment_server(app: Flask, rt: Runtime, clock: Clock) -> Iterator[str]:
    seed(
        rt,
        [
            Answer(2, clock() - timedelta(hours=2), comment=LONG_COMMENT, themes=["delivery"]),
            Answer(9, clock() - timedelta(hours=1), comment="Todo bien", themes=["price"]),
        ],
    )
    with rt.db.session() as s:
        create_user(s, "owner", PASSWORD, clock(), StaffRole.AGENT)
    with serving(app) as url:
        yield url


@pytest.mark.parametrize("width", [1280, 390])
def test_a_3000_character_comment_wraps_inside_the_page(
    long_comment_server: str, width: int, tmp_path: Path
) -> None:
    assert len(LONG_COMMENT) == 3000
    with chromium() as browser:
        page = browser.new_page(viewport={"width": width, "height": 900}, is_mobile=width < 500)
        page.goto(f"{long_comment_server}/dashboard/login")
        page.fill("#username", "owner")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("#comments")
        assert "inaceptable" in page.inner_text("#comments")
        # The themes in the page's language, as on the staff's alert card.
        assert "Delivery / shipping" in page.inner_text("#themes")
        page_width = page.evaluate("document.documentElement.scrollWidth")
        assert page_width <= width, f"the page is {page_width}px wide in a {width}px window"
        page.screenshot(path=str(tmp_path / f"long-comment-{width}.png"), full_page=True)

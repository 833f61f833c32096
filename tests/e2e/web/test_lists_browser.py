"""The cases list and the customer page on a 375 px phone, in Chromium: a 3,000-character
comment and a long name wrap, nothing scrolls sideways."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from bot.accounts.users import create_user
from bot.runtime import Runtime
from bot.storage.models import Case, Contact, ContactChannel, StaffRole
from tests.conftest import Clock
from tests.e2e.web.browser import PASSWORD, chromium, serving
from tests.e2e.web.browser import pytestmark as browser_marks
from tests.e2e.web.test_browser import LONG_COMMENT
from tests.integration.insights.seed import Answer, seed

pytestmark = browser_marks
WIDTH = 375
NAME = "María Fernanda de los Ángeles " + "Gutiérrez" * 12


@pytest.fixture
def server(app: Flask, rt: Runtime, clock: Clock) -> Iterator[tuple[str, int]]:
    now = clock()
    seed(
        rt,
        [
            Answer(2, now - timedelta(hours=30), channel="sms", comment=LONG_COMMENT, case="open"),
            *[Answer(s, now - timedelta(hours=s), case="taken") for s in range(6)],
        ],
    )
    with rt.db.session() as s:
        create_user(s, "agent", PASSWORD, clock(), StaffRole.AGENT)
        first, second, *_ = s.scalars(select(Case).order_by(Case.id))
        second.assignee = "Agent" + "x" * 120  # a name without a space to break at
        contact = s.get(Contact, first.contact_id)
        assert contact is not None
        contact.name = NAME
        s.add(ContactChannel(contact_id=contact.id, channel="sms", address="+5215512345678"))
        customer = contact.id
    with serving(app) as url:
        yield url, customer


def test_the_cases_list_and_the_customer_page_hold_on_a_375px_phone(
    server: tuple[str, int],
) -> None:
    base, customer = server
    with chromium() as browser:
        page = browser.new_page(viewport={"width": WIDTH, "height": 812}, is_mobile=True)
        page.goto(f"{base}/dashboard/login")
        page.fill("#username", "agent")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("#nps-value")
        for url, ready in (
            ("/dashboard/cases?status=all", "#case-list"),
            (f"/dashboard/customers/{customer}", "#surveys"),
        ):
            page.goto(base + url)
            page.wait_for_selector(ready)
            assert "Gutiérrez" in page.inner_text(ready if "cases" in url else "#customer")
            width, inner = page.evaluate(
                "[document.documentElement.scrollWidth, window.innerWidth]"
            )
            # A mobile browser widens its layout viewport (innerWidth) to fit a page that
            # overflows: both must stay at the phone's width.
            assert width <= inner == WIDTH, f"{url}: {width}px wide, viewport {inner}px"

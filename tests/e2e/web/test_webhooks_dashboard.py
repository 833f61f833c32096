"""The webhooks pages: an owner adds an endpoint (its secret shown once, on the page), disables
and enables it, reads its delivery log and replays; a refused form names its field; viewers are
refused; each change is audited as the dashboard user."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import select

from bot.accounts.users import create_user
from bot.runtime import Runtime
from bot.storage.hooks import emit
from bot.storage.models import AuditEvent, StaffRole
from bot.web.app import create_app
from tests.conftest import Clock, make_settings
from tests.e2e.web.test_dashboard import PASSWORD, csrf_of, log_in

PAGE = "/dashboard/webhooks"


@pytest.fixture
def shop(database_url: str, clock: Clock) -> Iterator[Flask]:
    app = create_app(make_settings(database_url))
    rt: Runtime = app.extensions["npsbot"]
    rt.clock = clock
    with rt.db.session() as s:
        create_user(s, "ana", PASSWORD, clock(), StaffRole.OWNER)
        create_user(s, "luis", PASSWORD, clock(), StaffRole.VIEWER)
    yield app
    rt.close()


def test_an_owner_adds_disables_reads_the_log_and_replays(shop: Flask) -> None:
    ana = shop.test_client()
    assert log_in(ana, "ana", lang="en") == 302
    token = csrf_of(ana.get(PAGE).get_data(as_text=True))
    bad = ana.post(PAGE, data={"csrf": token, "url": "ftp://x", "events": ["case.opened"]})
    assert bad.status_code == 422 and "The URL takes http://" in bad.get_data(as_text=True)
    made = ana.post(
        PAGE, data={"csrf": token, "url": "https://shop.example/hook", "events": ["case.opened"]}
    )
    html = made.get_data(as_text=True)
    assert made.status_code == 201 and "Webhook 1 is ready" in html
    assert re.search(r"<code data-secret>whsec_[A-Za-z0-9+/=]+</code>", html)
    assert "whsec_" not in ana.get(PAGE).get_data(as_text=True)  # shown once

    off = ana.post(f"{PAGE}/1/disable", data={"csrf": token}, follow_redirects=True)
    assert "Webhook 1 is disabled: its events wait." in off.get_data(as_text=True)
    ana.post(f"{PAGE}/1/enable", data={"csrf": token})
    rt: Runtime = shop.extensions["npsbot"]
    with rt.db.session_for_update() as s:
        event_id = emit(s, at=rt.clock(), kind="case.opened", data={"case_id": 7})
    log = ana.get(f"{PAGE}/1").get_data(as_text=True)
    assert event_id is not None and event_id in log and "pending" in log
    again = ana.post(f"{PAGE}/1/replay", data={"csrf": token, "hours": "24"}, follow_redirects=True)
    assert "1 deliveries will be sent again" in again.get_data(as_text=True)

    luis = shop.test_client()
    assert log_in(luis, "luis", lang="en") == 302
    assert luis.get(PAGE).status_code == 403
    with rt.db.session() as s:
        webhook = AuditEvent.action.startswith("webhook.")  # log-ins are audited too
        rows = s.execute(
            select(AuditEvent.actor, AuditEvent.action).where(webhook).order_by(AuditEvent.id)
        )
        assert [tuple(r) for r in rows] == [
            ("dashboard:ana", "webhook.create"),
            ("dashboard:ana", "webhook.disable"),
            ("dashboard:ana", "webhook.enable"),
            ("dashboard:ana", "webhook.replay"),
        ]

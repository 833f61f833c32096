"""A purchase never calls the provider inside a database transaction.

The Telegram deep link asks the Bot API for the bot's username (getMe). The loopback fake Bot
API looks at the database the moment getMe arrives: no connection of the app is checked out,
and another connection can take the writer lock (SQLite) / no session sits in a transaction
(PostgreSQL). Each flow runs in an app that has not asked getMe yet (the channel caches it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from bot.accounts.apikeys import create_key
from bot.events import RecordingBus
from bot.runtime import Runtime
from bot.web.app import create_app
from tests.conftest import Clock, make_settings
from tests.e2e.channels.rows_telegram import settings as telegram_settings
from tests.fakes.base import Recorded
from tests.fakes.bot_api import FakeBotApi
from tests.helpers import write_blockers

SURVEYS = """
[[survey]]
key = "telegram-first"
name = "After a purchase"
delay_minutes = 0
channels = ["telegram"]
"""
ORDER = {"order_id": "T-1", "customer": {"id": "C-7", "name": "Ana", "language": "es"}}


class WatchingBotApi(FakeBotApi):
    """The fake Bot API, asking `busy` at each getMe what holds the database."""

    def __init__(self, busy: Callable[[], list[str]]) -> None:
        super().__init__()
        self.busy = busy
        self.seen: list[list[str]] = []

    def default_body(self, req: Recorded) -> Mapping[str, Any]:
        if self.method(req) == "getMe":
            self.seen.append(self.busy())
        return super().default_body(req)


class Shop:
    """Web apps on one database, each with a Telegram channel that has not asked getMe yet."""

    def __init__(self, url: str, fake_url: str, tmp: Path, clock: Clock) -> None:
        surveys = tmp / "surveys.toml"
        surveys.write_text(SURVEYS, encoding="utf-8")
        self.env = make_settings(url, **telegram_settings(fake_url), SURVEYS_FILE=str(surveys))
        self.clock = clock
        self.apps: list[Flask] = []
        rt = self.runtime(self.app())
        with rt.db.session() as s:
            self.key = create_key(s, "shop", clock())

    def app(self) -> Flask:
        app = create_app(self.env, bus=RecordingBus())
        app.extensions["npsbot"].clock = self.clock
        self.apps.append(app)
        return app

    @staticmethod
    def runtime(app: Flask) -> Runtime:
        rt: Runtime = app.extensions["npsbot"]
        return rt

    def call(self, method: str, path: str, body: object = None) -> tuple[int, dict[str, Any]]:
        """One request to a fresh app (another web worker, as in production)."""
        client = self.app().test_client()
        headers = {"Authorization": f"Bearer {self.key}"}
        r = client.open(path, method=method, json=body, headers=headers)
        return r.status_code, r.json or {}

    def checked_out(self) -> int:
        return sum(self.runtime(a).db.engine.pool.checkedout() for a in self.apps)  # type: ignore[attr-defined]

    def close(self) -> None:
        for app in self.apps:
            self.runtime(app).close()


@pytest.fixture
def shop(database_url: str, tmp_path: Path, clock: Clock) -> Iterator[tuple[Shop, WatchingBotApi]]:
    holder: list[Shop] = []

    def busy() -> list[str]:
        pool = holder[0].checked_out()
        return [f"{pool} connection(s) checked out"] * bool(pool) + write_blockers(database_url)

    with WatchingBotApi(busy) as fake:
        s = Shop(database_url, fake.url, tmp_path, clock)
        holder.append(s)
        try:
            yield s, fake
        finally:
            s.close()


def _new_purchase(shop: Shop) -> str | None:
    status, body = shop.call("POST", "/api/v1/purchases", ORDER)
    assert status == 201
    return body["telegram_link"]


def _the_same_order_again(shop: Shop) -> str | None:
    shop.call("POST", "/api/v1/purchases", ORDER)
    status, body = shop.call("POST", "/api/v1/purchases", ORDER)
    assert status == 200
    return body["telegram_link"]


def _the_invitation_read_back(shop: Shop) -> str | None:
    _, created = shop.call("POST", "/api/v1/purchases", ORDER)
    status, body = shop.call("GET", f"/api/v1/invitations/{created['invitation_id']}")
    assert status == 200
    return body["telegram_link"]


FLOWS = [
    pytest.param(_new_purchase, 1, id="a new purchase"),
    pytest.param(_the_same_order_again, 2, id="the same order again"),
    pytest.param(_the_invitation_read_back, 2, id="the invitation read back"),
]


@pytest.mark.parametrize(("flow", "asks"), FLOWS)
def test_the_deep_link_is_asked_of_the_provider_outside_any_transaction(
    shop: tuple[Shop, WatchingBotApi], flow: Callable[[Shop], str | None], asks: int
) -> None:
    s, fake = shop
    link = flow(s)
    assert link is not None and link.startswith("https://t.me/acme_nps_bot?start=")
    assert len(fake.seen) == asks  # one getMe per fresh app
    assert fake.seen == [[]] * asks, fake.seen

"""The business API with SMS and WhatsApp configured (nothing is sent in these tests)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bot.accounts.apikeys import create_key
from bot.events import RecordingBus
from bot.runtime import Runtime
from tests.conftest import Clock
from tests.helpers import surveyed_app

SURVEYS = """
[[survey]]
key = "post-purchase"
name = "After a purchase"
delay_minutes = 120
resurvey_days = 30
channels = ["whatsapp", "sms"]

[[survey]]
key = "support"
name = "After a support call"
delay_minutes = 0
quiet_hours = ["22:00", "08:00"]
channels = ["sms"]
"""


@pytest.fixture
def app(database_url: str, clock: Clock, bus: RecordingBus, tmp_path: Path) -> Iterator[Flask]:
    with surveyed_app(database_url, clock, bus, tmp_path / "surveys.toml", SURVEYS) as app:
        yield app


@pytest.fixture
def key(rt: Runtime) -> str:
    with rt.db.session() as s:
        return create_key(s, "shop", rt.clock())


class Api:
    def __init__(self, client: FlaskClient, key: str) -> None:
        self.client, self.headers = client, {"Authorization": f"Bearer {key}"}

    def purchase(self, **body: object) -> tuple[int, dict[str, object]]:
        r = self.client.post("/api/v1/purchases", json=body, headers=self.headers)
        return r.status_code, r.json  # type: ignore[return-value]

    def get(self, path: str) -> tuple[int, dict[str, object]]:
        r = self.client.get(path, headers=self.headers)
        return r.status_code, r.json  # type: ignore[return-value]


@pytest.fixture
def api(client: FlaskClient, key: str) -> Api:
    return Api(client, key)

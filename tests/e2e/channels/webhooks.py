"""Signed webhooks against the real app, for the edge and fuzz tests: a world with Twilio (SMS
and WhatsApp) and Telegram enabled against the loopback fakes, and its stored rows."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from flask import Flask
from sqlalchemy import func, select

from bot.runtime import Runtime
from bot.storage.models import Contact, ContactChannel, Message
from bot.web.app import create_app
from tests.conftest import Clock, make_settings
from tests.e2e.channels import rows_sms, rows_telegram
from tests.fakes.bot_api import FakeBotApi
from tests.fakes.twilio_api import FakeTwilio

PAYLOADS = Path(__file__).resolve().parents[2] / "payloads"
TWILIO = "http://localhost/webhooks/twilio"
TELEGRAM = "http://localhost/webhooks/telegram"


def twilio_form(payload: str = "sms_text.form", **fields: str) -> dict[str, str]:
    raw = (PAYLOADS / "twilio" / payload).read_text().strip()
    return {**dict(parse_qsl(raw, keep_blank_values=True)), **fields}


def telegram_update(payload: str = "message_text.json") -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PAYLOADS / "telegram" / payload).read_text())
    return data


@dataclass
class World:
    app: Flask
    rt: Runtime

    def twilio(self, form: Mapping[str, str], path: str = "") -> tuple[int, bytes]:
        """POST a form validly signed with the account's token (Twilio's own validator)."""
        url = TWILIO + path
        headers = rows_sms.sign(url, form, b"", self.rt.settings)
        r = self.app.test_client().post(
            url,
            data=urlencode(dict(form)),
            headers=headers | {"Content-Type": "application/x-www-form-urlencoded"},
        )
        return r.status_code, r.get_data()

    def telegram(self, update: Any | bytes) -> tuple[int, bytes]:
        """POST an update (an object, or raw bytes) with the webhook's secret token."""
        body = update if isinstance(update, bytes) else json.dumps(update).encode()
        headers = rows_telegram.sign(TELEGRAM, {}, body, self.rt.settings)
        r = self.app.test_client().post(
            TELEGRAM, data=body, headers=headers | {"Content-Type": "application/json"}
        )
        return r.status_code, r.get_data()

    def inbound(self, channel: str | None = None) -> list[Message]:
        q = select(Message).where(Message.direction == "in").order_by(Message.id)
        if channel is not None:
            q = q.where(Message.channel == channel)
        with self.rt.db.session() as s:
            return list(s.scalars(q))

    def stored(self, channel: str, provider_id: str) -> int:
        """How many inbound rows hold this provider id."""
        with self.rt.db.session() as s:
            return (
                s.scalar(
                    select(func.count()).where(
                        Message.direction == "in",
                        Message.channel == channel,
                        Message.provider_id == provider_id,
                    )
                )
                or 0
            )

    def contacts(self) -> int:
        with self.rt.db.session() as s:
            return s.scalar(select(func.count()).select_from(Contact)) or 0

    def addresses(self) -> list[tuple[str, str]]:
        with self.rt.db.session() as s:
            return [(c.channel, c.address) for c in s.scalars(select(ContactChannel))]


@contextmanager
def world(database_url: str, clock: Clock) -> Iterator[World]:
    with FakeTwilio() as twilio, FakeBotApi() as bot:
        providers = rows_sms.settings(twilio.url) | rows_telegram.settings(bot.url)
        settings = make_settings(database_url, **providers)
        app = create_app(settings)
        rt: Runtime = app.extensions["npsbot"]
        rt.clock = clock
        try:
            yield World(app, rt)
        finally:
            rt.close()

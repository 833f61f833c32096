"""A customer completes a survey on Telegram by tapping, end to end.

purchase (a contact whose Telegram chat is known) → the dispatcher sends the question with the
0-10 keyboard through the real python-telegram-bot to the fake Bot API → the customer taps 3
(a callback_query webhook carrying the button's real callback_data) → the callback is answered,
the question edited to show the score, the "why" sent → the customer types the reason → thanks →
the response is stored. Runs on SQLite and PostgreSQL. Every Bot API call is spec-checked.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from bot.accounts.apikeys import create_key
from bot.runtime import Runtime
from bot.storage.models import Consent, Contact, Invitation, Message, Response
from bot.survey.purchases import create_invitation, survey_by_key
from bot.web.app import create_app
from scheduler.loop import tick
from tests.conftest import Clock, at_hours, make_settings
from tests.e2e.channels.rows_telegram import ANA, settings, sign
from tests.fakes.base import Recorded
from tests.fakes.bot_api import SPEC_FILE, FakeBotApi
from tests.helpers import send_due

pytestmark = pytest.mark.skipif(
    not SPEC_FILE.is_file(), reason=f"Telegram Bot API description not found at {SPEC_FILE}"
)

SURVEYS = """
[[survey]]
key = "post-purchase"
name = "After a purchase"
delay_minutes = 0
channels = ["telegram"]
"""
WEBHOOK = "http://localhost/webhooks/telegram"
PAYLOADS = Path(__file__).resolve().parents[2] / "payloads" / "telegram"


@dataclass
class World:
    app: Flask
    rt: Runtime
    client: FlaskClient
    fake: FakeBotApi
    ids: Iterator[int]

    def purchase(self) -> int:
        with self.rt.db.session() as s:
            contact = Contact(
                name="Ana", language="es", telegram_chat_id=ANA, created_at=self.rt.clock()
            )
            s.add(contact)
            s.flush()
            survey = survey_by_key(s, "post-purchase")
            assert survey is not None
            inv = create_invitation(
                s, survey, contact, now=self.rt.clock(), order_id="A-1001", channels=["telegram"]
            )
            return inv.id

    def bought_with_a_link(self) -> str:
        """A purchase through the API for a customer with no Telegram chat yet: its deep link."""
        with self.rt.db.session() as s:
            key = create_key(s, "shop", self.rt.clock())
        r = self.client.post(
            "/api/v1/purchases",
            json={"order_id": "T-1", "customer": {"id": "C-9", "name": "Ana", "language": "es"}},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert r.status_code == 201 and r.json is not None
        link: str = r.json["telegram_link"]
        return link

    def update(self, kind: str, obj: dict[str, Any]) -> None:
        """Telegram POSTs one update; the webhook answers `{}` and sends replies separately."""
        body = json.dumps({"update_id": next(self.ids), kind: obj}).encode()
        headers = {"Content-Type": "application/json", **sign(WEBHOOK, {}, body, self.rt.settings)}
        r = self.client.post(WEBHOOK, data=body, headers=headers)
        assert (r.status_code, r.get_data()) == (200, b"{}")

    def tap(self, question: Recorded, label: str, message_id: int = 1001) -> None:
        """The customer taps `label` on the keyboard of the question (fake ids start at 1001)."""
        data = json.loads((PAYLOADS / "callback_query.json").read_bytes())["callback_query"]
        keyboard = question.form["reply_markup"]["inline_keyboard"]
        (button,) = [b for row in keyboard for b in row if b["text"] == label]
        data["id"] = f"cbq-{label}"
        data["data"] = button["callback_data"]
        data["message"]["message_id"] = message_id
        self.update("callback_query", data)

    def types(self, text: str) -> None:
        data = json.loads((PAYLOADS / "message_text.json").read_bytes())["message"]
        data["message_id"] = next(self.ids) % 100000
        data["text"] = text
        self.update("message", data)

    def calls(self, after: int = 0) -> list[tuple[str, dict[str, Any]]]:
        tick(self.rt)  # the outbox sends what the conversation queued
        assert self.fake.spec_problems == []
        return [(r.path.rsplit("/", 1)[1], r.form) for r in self.fake.requests[after:]]


@pytest.fixture
def world(database_url: str, clock: Clock, tmp_path: Path) -> Iterator[World]:
    surveys = tmp_path / "surveys.toml"
    surveys.write_text(SURVEYS, encoding="utf-8")
    with FakeBotApi() as fake:
        env = make_settings(database_url, **settings(fake.url), SURVEYS_FILE=str(surveys))
        app = create_app(env)
        rt: Runtime = app.extensions["npsbot"]
        rt.clock = clock
        try:
            yield World(app, rt, app.test_client(), fake, itertools.count(815400001))
        finally:
            rt.close()


@at_hours
def test_tap_three_then_why_then_thanks_is_stored(world: World, clock: Clock) -> None:
    inv_id = world.purchase()
    send_due(world.rt, clock, inv_id)
    ((method, form),) = world.calls()
    assert (method, form["chat_id"]) == ("sendMessage", int(ANA))
    rows = form["reply_markup"]["inline_keyboard"]
    assert [[b["text"] for b in row] for row in rows] == [
        ["0", "1", "2", "3", "4", "5"],
        ["6", "7", "8", "9", "10"],
    ]
    assert all(len(b["callback_data"].encode()) <= 64 for row in rows for b in row)

    seen = len(world.fake.requests)
    world.tap(world.fake.requests[0], "3")
    after_tap = world.calls(seen)
    methods = [m for m, _ in after_tap]
    # The spinner stops first, then the question shows the choice, then the "why".
    assert methods[0] == "answerCallbackQuery"
    assert after_tap[0][1]["callback_query_id"] == "cbq-3"
    assert "editMessageText" in methods and "sendMessage" in methods
    edit = dict(after_tap)["editMessageText"]
    assert (edit["chat_id"], edit["message_id"]) == (int(ANA), 1001)
    assert "3" in edit["text"] and "reply_markup" not in edit  # keyboard gone

    seen = len(world.fake.requests)
    world.types("Tardó dos semanas en llegar")
    ((method, thanks),) = world.calls(seen)
    assert (method, thanks["chat_id"]) == ("sendMessage", int(ANA))

    with world.rt.db.session() as s:
        resp = s.scalar(select(Response).where(Response.invitation_id == inv_id))
        assert resp is not None
        assert (resp.channel, resp.score, resp.category) == ("telegram", 3, "detractor")
        assert resp.comment == "Tardó dos semanas en llegar" and resp.completed_at is not None
        inv = s.get(Invitation, inv_id)
        assert inv is not None and inv.state == "completed"


@at_hours
def test_a_forged_button_is_answered_and_changes_nothing(world: World, clock: Clock) -> None:
    inv_id = world.purchase()
    send_due(world.rt, clock, inv_id)
    question = world.fake.requests[0]
    forged = dict(question.form)
    keyboard = json.loads(json.dumps(forged["reply_markup"]))
    keyboard["inline_keyboard"][1][4]["callback_data"] = f"s:{inv_id}:10:AAAAAAAAAA"
    forged["reply_markup"] = keyboard
    seen = len(world.fake.requests)
    world.tap(Recorded("POST", question.path, {}, {}, forged), "10")
    after = world.calls(seen)
    assert after[0][0] == "answerCallbackQuery"  # the client never spins forever
    with world.rt.db.session() as s:
        resp = s.scalar(select(Response).where(Response.invitation_id == inv_id))
        assert resp is None or resp.score is None


@at_hours
def test_onboarding_purchase_deep_link_start_tap_why_thanks_stored(world: World) -> None:
    """A customer with no Telegram chat yet: the API returns a deep link for the order
    confirmation; /start <payload> links the chat and the survey starts at once, at any hour
    (the customer is there: the quiet hours are for surveys nobody asked for yet)."""
    link = world.bought_with_a_link()
    assert link.startswith("https://t.me/acme_nps_bot?start=")
    payload = link.rsplit("=", 1)[1]
    assert len(payload) <= 64 and payload.replace("-", "").replace("_", "").isalnum()
    # A bot cannot write first: nothing is sent yet (getMe only asks the bot's @username).
    assert [m for m, _ in world.calls()] in ([], ["getMe"])

    seen = len(world.fake.requests)
    world.types(f"/start {payload}")
    ((method, question),) = world.calls(seen)
    assert (method, question["chat_id"]) == ("sendMessage", int(ANA))
    assert "inline_keyboard" in question["reply_markup"]

    seen = len(world.fake.requests)
    world.tap(world.fake.requests[-1], "3")
    assert next(m for m, _ in world.calls(seen)) == "answerCallbackQuery"
    seen = len(world.fake.requests)
    world.types("El repartidor fue grosero")
    assert [m for m, _ in world.calls(seen)] == ["sendMessage"]
    with world.rt.db.session() as s:
        inv = s.scalar(select(Invitation).where(Invitation.order_id == "T-1"))
        assert inv is not None and inv.state == "completed" and inv.link_token is None
        assert inv.contact.telegram_chat_id == ANA
        resp = s.scalar(select(Response).where(Response.invitation_id == inv.id))
        assert resp is not None and (resp.score, resp.comment) == (3, "El repartidor fue grosero")
        # Opening the chat with /start is the customer's consent on Telegram.
        (c,) = s.scalars(select(Consent))
        assert (c.channel, c.given, c.method, c.source) == ("telegram", True, "start", "/start")

    # The link is single-use: a second /start with it changes nothing.
    seen = len(world.fake.requests)
    world.types(f"/start {payload}")
    ((method, again),) = world.calls(seen)
    assert method == "sendMessage" and "inline_keyboard" not in again.get("reply_markup", {})


def test_after_a_start_at_night_the_reminder_waits_for_the_morning(
    world: World, clock: Clock
) -> None:
    """The survey a /start asked for goes at once at 23:30; its reminder, a day later, is the
    business writing first: it keeps the quiet hours (21:00-09:00; the customer's zone is
    unknown, so UTC)."""
    clock.now = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)
    payload = world.bought_with_a_link().rsplit("=", 1)[1]
    world.calls()
    seen = len(world.fake.requests)
    world.types(f"/start {payload}")
    ((method, question),) = world.calls(seen)
    assert method == "sendMessage"
    seen = len(world.fake.requests)
    clock.advance(hours=24, minutes=1)  # the reminder is due, at 23:31
    assert world.calls(seen) == []
    clock.now = datetime(2026, 11, 24, 8, 59, tzinfo=UTC)
    assert world.calls(seen) == []
    clock.now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    ((method, reminder),) = world.calls(seen)
    assert method == "sendMessage" and reminder["text"] == question["text"]
    with world.rt.db.session() as s:
        kinds = s.scalars(select(Message.kind).where(Message.direction == "out")).all()
    assert kinds.count("reminder") == 1

"""The staff side, driven through the real clients: python-telegram-bot against the loopback
Bot API, twilio against the loopback Twilio, Apprise against a loopback HTTP receiver."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from bot.runtime import Runtime
from bot.storage.models import Alert, Case, CaseEvent, Contact, Invitation
from bot.survey.purchases import create_invitation, survey_by_key
from bot.web.app import create_app
from scheduler.loop import tick
from tests.conftest import Clock, make_settings
from tests.e2e.channels.rows_sms import ACCOUNT, CUSTOMER, WA_FROM
from tests.e2e.channels.rows_sms import settings as twilio_settings
from tests.e2e.channels.rows_sms import sign as twilio_sign
from tests.e2e.channels.rows_telegram import settings as telegram_settings
from tests.e2e.channels.rows_telegram import sign as telegram_sign
from tests.fakes.base import FakeProvider, Recorded
from tests.fakes.bot_api import FakeBotApi, ok
from tests.fakes.twilio_api import FakeTwilio
from tests.helpers import open_survey

STAFF = "-1001234567890"
ESCALATION = "-1009876543210"
POLANCO = "-1005555555555"
LUIS = {"id": 777001, "is_bot": False, "first_name": "Luis", "last_name": "Pérez"}
MARTA = {"id": 777002, "is_bot": False, "first_name": "Marta"}
STRANGER = {"id": 999999, "is_bot": False, "first_name": "Eve"}
SURVEYS = f"""
[[survey]]
key = "post-purchase"
name = "After a purchase"
delay_minutes = 0
channels = ["whatsapp"]
alert_on = ["detractor"]
alert_themes = ["returns_refunds"]
promoter_links = {{ es = "https://g.page/r/acme/review" }}

[[survey.routes]]
match = {{ store = "Polanco" }}
telegram_chat_id = "{POLANCO}"
"""


class StaffBotApi(FakeBotApi):
    """The fake Bot API, plus getChatMember answered from `members` (chat id -> user ids)."""

    def __init__(self) -> None:
        super().__init__()
        self.members: dict[int, set[int]] = {}
        # Set by a test: asked at each getChatMember what keeps the database from writing.
        self.busy: Callable[[], list[str]] | None = None
        self.busy_seen: list[list[str]] = []

    def default_body(self, req: Recorded) -> Mapping[str, Any]:
        if self.method(req) == "getChatMember":
            if self.busy is not None:
                self.busy_seen.append(self.busy())
            chat, user = int(req.form["chat_id"]), int(req.form["user_id"])
            status = "member" if user in self.members.get(chat, set()) else "left"
            return ok({"status": status, "user": {"id": user, "is_bot": False, "first_name": "X"}})
        return super().default_body(req)


def group(chat: str) -> dict[str, Any]:
    return {"id": int(chat), "type": "supergroup", "title": "Acme staff"}


@dataclass
class World:
    app: Flask
    rt: Runtime
    client: FlaskClient
    telegram: StaffBotApi
    twilio: FakeTwilio
    receiver: FakeProvider
    clock: Clock
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(915000001))

    # --- the customer, on WhatsApp ------------------------------------------------------------
    def purchase(self, **meta: str) -> int:
        with self.rt.db.session() as s:
            contact = s.scalar(select(Contact).where(Contact.phone == CUSTOMER))
        if contact is None:
            inv_id = open_survey(self.rt, "whatsapp", CUSTOMER)
        with self.rt.db.session() as s:
            if contact is not None:  # a returning customer: another survey asked
                survey = survey_by_key(s, "post-purchase")
                assert survey is not None
                now = self.clock()
                new = create_invitation(s, survey, contact, now=now, channels=["whatsapp"])
                new.state, new.channel, new.sent_at = "asked", "whatsapp", now
                new.expires_at = now + _hours(72)
                inv_id = new.id
            inv = s.get(Invitation, inv_id)
            assert inv is not None
            inv.meta, inv.order_id = dict(meta), f"A-{inv_id}"
            inv.occurred_at = self.clock() - _hours(26)
        return inv_id

    def customer_says(self, text: str) -> str:
        """Twilio's signed WhatsApp webhook; returns the TwiML answer."""
        sid = f"SM{next(self.ids):032x}"
        form = {
            "MessageSid": sid,
            "SmsMessageSid": sid,
            "SmsSid": sid,
            "SmsStatus": "received",
            "NumMedia": "0",
            "Body": text,
            "To": f"whatsapp:{WA_FROM}",
            "From": f"whatsapp:{CUSTOMER}",
            "AccountSid": ACCOUNT,
            "ApiVersion": "2010-04-01",
            "ProfileName": "Ana",
            "WaId": CUSTOMER[1:],
            "MessageType": "text",
        }
        url = "http://localhost/webhooks/twilio"
        body = urlencode(form).encode()
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            **twilio_sign(url, form, body, self.rt.settings),
        }
        r = self.client.post(url, data=body, headers=headers)
        assert r.status_code == 200, r.get_data(as_text=True)
        return r.get_data(as_text=True)

    def whatsapp_sent(self) -> list[str]:
        """Bodies of the messages npsbot sent the customer through the Twilio API."""
        return [
            str(r.form.get("Body"))
            for r in self.twilio.requests
            if r.method == "POST" and r.path.endswith("/Messages.json")
        ]

    # --- the staff group, on Telegram ---------------------------------------------------------
    def update(self, kind: str, obj: dict[str, Any]) -> None:
        url = "http://localhost/webhooks/telegram"
        body = json.dumps({"update_id": next(self.ids), kind: obj}).encode()
        headers = {
            "Content-Type": "application/json",
            **telegram_sign(url, {}, body, self.rt.settings),
        }
        r = self.client.post(url, data=body, headers=headers)
        assert (r.status_code, r.get_data()) == (200, b"{}")

    def tap(self, who: dict[str, Any], card: str, label: str, chat: str | None = None) -> None:
        """`who` taps the button labelled `label` on the card whose id is "chat:message"."""
        card_chat, message_id = card.rsplit(":", 1)
        sent = self.sent_to(card_chat)
        keyboard = next(
            f["reply_markup"]["inline_keyboard"]
            for m, f in reversed(sent)
            if "reply_markup" in f and f.get("message_id", None) in (None, int(message_id))
        )
        (data,) = [b["callback_data"] for row in keyboard for b in row if label in b["text"]]
        message = {
            "message_id": int(message_id),
            "date": 1700000000,
            "chat": group(chat or card_chat),
            "text": "card",
        }
        query = {
            "id": f"cbq-{next(self.ids)}",
            "from": who,
            "message": message,
            "chat_instance": "42",
            "data": data,
        }
        self.update("callback_query", query)

    def staff_replies(self, who: dict[str, Any], to: str, text: str) -> None:
        chat, message_id = to.rsplit(":", 1)
        replied = {"message_id": int(message_id), "date": 1700000000, "chat": group(chat)}
        msg = {
            "message_id": next(self.ids) % 100000,
            "date": 1700000000,
            "chat": group(chat),
            "from": who,
            "text": text,
            "reply_to_message": replied | {"text": "card"},
        }
        self.update("message", msg)

    def sent_to(self, chat: str, after: int = 0) -> list[tuple[str, dict[str, Any]]]:
        """(method, fields) of Bot API calls about `chat` (membership checks aside), in order."""
        assert self.telegram.spec_problems == []
        return [
            (self.telegram.method(r), r.form)
            for r in self.telegram.requests[after:]
            if self.telegram.method(r) != "getChatMember"
            and (
                str(r.form.get("chat_id")) == chat
                or self.telegram.method(r) == "answerCallbackQuery"
            )
        ]

    def tick(self) -> int:
        return tick(self.rt)

    # --- what was stored ----------------------------------------------------------------------
    def case(self) -> Case:
        with self.rt.db.session() as s:
            case = s.scalar(select(Case).order_by(Case.id.desc()))
            assert case is not None
            return case

    def card(self, chat: str = STAFF, kind: str = "alert") -> str:
        with self.rt.db.session() as s:
            ref = s.scalar(
                select(Alert.provider_id).where(
                    Alert.destination == f"telegram:{chat}", Alert.kind == kind
                )
            )
            assert ref is not None, f"no {kind} card in {chat}"
            return ref

    def events(self) -> list[str]:
        with self.rt.db.session() as s:
            return list(s.scalars(select(CaseEvent.kind).order_by(CaseEvent.id)))


def _hours(n: float) -> Any:
    return timedelta(hours=n)


def make_world(
    database_url: str,
    clock: Clock,
    tmp_path: Path,
    *,
    notify: bool = False,
    definitions: str = SURVEYS,
    **extra: str,
) -> Iterator[World]:
    surveys = tmp_path / "surveys.toml"
    surveys.write_text(definitions, encoding="utf-8")
    with StaffBotApi() as tg, FakeTwilio() as tw, FakeProvider() as receiver:
        if notify:  # Apprise's JSON service, posting to the loopback receiver
            extra["STAFF_NOTIFY_URLS"] = receiver.url.replace("http://", "json://") + "/hook"
        tg.members = {int(STAFF): {LUIS["id"], MARTA["id"]}, int(ESCALATION): {LUIS["id"]}}
        env = make_settings(
            database_url,
            **(telegram_settings(tg.url) | twilio_settings(tw.url)),
            SURVEYS_FILE=str(surveys),
            STAFF_TELEGRAM_CHAT_ID=STAFF,
            STAFF_ESCALATION_CHAT_ID=ESCALATION,
            **extra,
        )
        app = create_app(env)
        rt: Runtime = app.extensions["npsbot"]
        rt.clock = clock
        try:
            yield World(app, rt, app.test_client(), tg, tw, receiver, clock)
        finally:
            rt.close()

"""A customer completes a survey over WhatsApp and over SMS, end to end.

purchase → the dispatcher sends the invitation through the real twilio client to the fake Twilio
(a WhatsApp approved template, or SMS text) → Twilio's status callback → the customer answers
"9" through the signed webhook → the "why" question comes back inline as TwiML → the reason →
thanks → the response is stored. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from bot.runtime import Runtime
from bot.storage.models import Contact, Invitation, Message, Response
from bot.survey.purchases import create_invitation, survey_by_key
from bot.web.app import create_app
from tests.conftest import Clock, at_hours, make_settings
from tests.e2e.channels.rows_sms import ACCOUNT, CUSTOMER, SMS_FROM, WA_FROM, settings, sign
from tests.fakes.base import SPECS, Answer
from tests.fakes.twilio_api import FakeTwilio, error
from tests.helpers import send_due

pytestmark = pytest.mark.skipif(not SPECS.is_dir(), reason=f"provider specs not found at {SPECS}")

TEMPLATE = "HX0a1b2c3d4e5f60718293a4b5c6d7e8f9"
SURVEYS = f"""
[[survey]]
key = "post-purchase"
name = "After a purchase"
delay_minutes = 0
channels = ["whatsapp", "sms"]

[survey.whatsapp_templates.es]
sid = "{TEMPLATE}"
variables = {{ "2" = "Tienda Ejemplo" }}
"""
WEBHOOK = "http://localhost/webhooks/twilio"


@dataclass
class World:
    app: Flask
    rt: Runtime
    client: FlaskClient
    fake: FakeTwilio
    sids: Iterator[int]

    def purchase(self, channels: list[str]) -> int:
        with self.rt.db.session() as s:
            contact = Contact(name="Ana", language="es", phone=CUSTOMER, created_at=self.rt.clock())
            s.add(contact)
            s.flush()
            survey = survey_by_key(s, "post-purchase")
            assert survey is not None
            inv = create_invitation(
                s, survey, contact, now=self.rt.clock(), order_id="A-1001", channels=channels
            )
            return inv.id

    def post(self, path: str, form: dict[str, str]) -> str:
        url = WEBHOOK + path
        body = urlencode(form).encode()
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            **sign(url, form, body, self.rt.settings),
        }
        r = self.client.post(url, data=body, headers=headers)
        assert r.status_code == 200, r.get_data(as_text=True)
        assert r.content_type.startswith("text/xml")
        return r.get_data(as_text=True)

    def customer_says(self, channel: str, text: str) -> str:
        """Twilio's inbound webhook for one customer message; returns the TwiML answer."""
        sid = f"SM{next(self.sids):032x}"
        wa = channel == "whatsapp"
        form = {
            "SmsMessageSid": sid,
            "NumMedia": "0",
            "SmsSid": sid,
            "SmsStatus": "received",
            "Body": text,
            "To": f"whatsapp:{WA_FROM}" if wa else SMS_FROM,
            "NumSegments": "1",
            "MessageSid": sid,
            "AccountSid": ACCOUNT,
            "From": f"whatsapp:{CUSTOMER}" if wa else CUSTOMER,
            "ApiVersion": "2010-04-01",
        }
        if wa:
            form |= {"ProfileName": "Ana", "WaId": CUSTOMER[1:], "MessageType": "text"}
        return self.post("", form)

    def delivered(self, channel: str, sid: str) -> None:
        wa = channel == "whatsapp"
        form = {
            "SmsSid": sid,
            "SmsStatus": "delivered",
            "MessageStatus": "delivered",
            "To": f"whatsapp:{CUSTOMER}" if wa else CUSTOMER,
            "MessageSid": sid,
            "AccountSid": ACCOUNT,
            "From": f"whatsapp:{WA_FROM}" if wa else SMS_FROM,
            "ApiVersion": "2010-04-01",
        }
        assert self.post("/status", form).endswith("<Response/>")

    def question(self, inv_id: int) -> Message:
        with self.rt.db.session() as s:
            row = s.scalar(
                select(Message).where(Message.invitation_id == inv_id, Message.direction == "out")
            )
            assert row is not None
            s.expunge(row)
            return row


@pytest.fixture
def world(database_url: str, clock: Clock, tmp_path: Path) -> Iterator[World]:
    surveys = tmp_path / "surveys.toml"
    surveys.write_text(SURVEYS, encoding="utf-8")
    with FakeTwilio() as fake:
        env = make_settings(database_url, **settings(fake.url), SURVEYS_FILE=str(surveys))
        app = create_app(env)
        rt: Runtime = app.extensions["npsbot"]
        rt.clock = clock
        try:
            yield World(app, rt, app.test_client(), fake, iter(range(1, 10**6)))
        finally:
            rt.close()


def finish_survey(w: World, channel: str, inv_id: int) -> None:
    why = w.customer_says(channel, "9")
    assert "¿Qué es lo que más te gusta de nosotros?" in why
    thanks = w.customer_says(channel, "La entrega fue rapidísima")
    assert "Nos alegra mucho tu respuesta" in thanks
    with w.rt.db.session() as s:
        resp = s.scalar(select(Response).where(Response.invitation_id == inv_id))
        assert resp is not None
        assert (resp.channel, resp.score, resp.category) == (channel, 9, "promoter")
        assert resp.comment == "La entrega fue rapidísima" and resp.completed_at is not None
        inv = s.get(Invitation, inv_id)
        assert inv is not None and inv.state == "completed"


@at_hours
def test_whatsapp_template_invitation_to_stored_response(world: World, clock: Clock) -> None:
    inv_id = world.purchase(["whatsapp", "sms"])
    send_due(world.rt, clock, inv_id)
    (req,) = world.fake.requests
    assert world.fake.spec_problems == []
    # No customer message opened the 24 h window: the approved template goes, not free text.
    assert "Body" not in req.form
    assert req.form["ContentSid"] == TEMPLATE
    assert json.loads(req.form["ContentVariables"]) == {"1": "Ana", "2": "Tienda Ejemplo"}
    assert (req.form["To"], req.form["From"]) == (f"whatsapp:{CUSTOMER}", f"whatsapp:{WA_FROM}")
    question = world.question(inv_id)
    assert question.channel == "whatsapp" and question.provider_id
    world.delivered("whatsapp", question.provider_id)
    assert world.question(inv_id).status == "delivered"
    finish_survey(world, "whatsapp", inv_id)
    assert len(world.fake.requests) == 1  # every reply went inline as TwiML


@at_hours
def test_sms_invitation_to_stored_response(world: World, clock: Clock) -> None:
    inv_id = world.purchase(["sms"])
    send_due(world.rt, clock, inv_id)
    (req,) = world.fake.requests
    assert world.fake.spec_problems == []
    assert (req.form["To"], req.form["From"]) == (CUSTOMER, SMS_FROM)
    # The mandated question, with only the ú dropped: one GSM-7 segment instead of three UCS-2.
    assert "Responde con un numero del 0 al 10." in req.form["Body"]
    assert req.form["StatusCallback"] == "http://127.0.0.1:8000/webhooks/twilio/status"
    question = world.question(inv_id)
    world.delivered("sms", question.provider_id or "")
    finish_survey(world, "sms", inv_id)


@at_hours
def test_no_whatsapp_account_falls_back_to_sms(world: World, clock: Clock) -> None:
    world.fake.queue(Answer(400, error(63024)), Answer())
    inv_id = world.purchase(["whatsapp", "sms"])
    send_due(world.rt, clock, inv_id)
    assert [r.form["To"] for r in world.fake.requests] == [f"whatsapp:{CUSTOMER}", CUSTOMER]
    assert world.question(inv_id).channel == "sms"
    finish_survey(world, "sms", inv_id)

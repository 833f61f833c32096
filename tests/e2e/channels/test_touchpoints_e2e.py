"""A store's touchpoint, end to end: its QR code read by a QR reader (zxing-cpp) off the PNG the
API serves → the customer sends the prefilled WhatsApp text through Twilio's signed webhook (or
opens the Telegram deep link: /start <code>) → the survey is asked at once on that channel
through the real provider client and the fakes → the answers → a stored response carrying the
store's metadata and `touchpoint`, which the NPS breakdown groups by. Runs on SQLite and
PostgreSQL, at each of the test hours (the customer is present: no quiet hours).
"""

from __future__ import annotations

import itertools
import json
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import zxingcpp
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from bot.accounts.apikeys import create_key
from bot.runtime import Runtime
from bot.storage.models import Consent, Invitation, Response
from bot.web.app import create_app
from scheduler.loop import tick
from tests.conftest import Clock, at_hours, make_settings
from tests.e2e.channels import rows_sms, rows_telegram
from tests.e2e.channels.rows_sms import ACCOUNT, CUSTOMER, WA_FROM
from tests.e2e.channels.rows_telegram import ANA
from tests.fakes.base import SPECS
from tests.fakes.bot_api import SPEC_FILE, FakeBotApi
from tests.fakes.twilio_api import FakeTwilio
from tests.helpers import audit_trail

pytestmark = pytest.mark.skipif(
    not (SPECS.is_dir() and SPEC_FILE.is_file()), reason=f"provider specs not found at {SPECS}"
)

SURVEYS = """
[[survey]]
key = "in-store"
name = "In the store"
delay_minutes = 0
resurvey_days = 0
channels = ["whatsapp", "sms", "telegram"]
"""
TWILIO = "http://localhost/webhooks/twilio"
TELEGRAM = "http://localhost/webhooks/telegram"
PAYLOADS = Path(__file__).resolve().parents[2] / "payloads" / "telegram"


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def read_png(data: bytes) -> memoryview:
    """A 1-bit greyscale PNG (segno's) as a 2-D array of 0/255 bytes, for the QR reader: the
    PNG's chunks, zlib and the five row filters (PNG spec, section 9), with no imaging library."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (size,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + size]
        header = body if kind == b"IHDR" else header
        idat += body if kind == b"IDAT" else b""
        pos += 12 + size
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert (depth, colour) == (1, 0)
    raw, stride = zlib.decompress(idat), (width + 7) // 8
    pixels, prior = bytearray(), bytes(stride)
    for y in range(height):
        kind, row = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for i in range(stride):
            a, b, c = (row[i - 1] if i else 0), prior[i], (prior[i - 1] if i else 0)
            row[i] = (row[i] + (0, a, b, (a + b) // 2, _paeth(a, b, c))[kind]) & 0xFF
        prior = bytes(row)
        pixels += bytes(255 if row[x // 8] >> (7 - x % 8) & 1 else 0 for x in range(width))
    return memoryview(pixels).cast("B", (height, width))


@dataclass
class World:
    rt: Runtime
    client: FlaskClient
    twilio: FakeTwilio
    bot_api: FakeBotApi
    headers: dict[str, str]
    ids: Iterator[int]

    def api(self, method: str, path: str, **kw: Any) -> Any:
        r = self.client.open(f"/api/v1{path}", method=method, headers=self.headers, **kw)
        return r

    def scanned(self, key: str, link: str) -> str:
        """What a phone's camera reads off the touchpoint's PNG QR code."""
        r = self.api("GET", f"/touchpoints/{key}/qr.png?link={link}")
        assert (r.status_code, r.content_type) == (200, "image/png")
        (found,) = zxingcpp.read_barcodes(read_png(r.get_data()))
        text: str = found.text
        return text

    def whatsapp(self, text: str) -> str:
        """The customer sends `text` on WhatsApp: Twilio's signed webhook; the TwiML answer."""
        sid = f"SM{next(self.ids):032x}"
        form = {
            "SmsMessageSid": sid,
            "NumMedia": "0",
            "SmsSid": sid,
            "SmsStatus": "received",
            "Body": text,
            "To": f"whatsapp:{WA_FROM}",
            "NumSegments": "1",
            "MessageSid": sid,
            "AccountSid": ACCOUNT,
            "From": f"whatsapp:{CUSTOMER}",
            "ApiVersion": "2010-04-01",
            "ProfileName": "Ana",
            "WaId": CUSTOMER[1:],
            "MessageType": "text",
        }
        body = urlencode(form).encode()
        signed = rows_sms.sign(TWILIO, form, body, self.rt.settings)
        headers = {"Content-Type": "application/x-www-form-urlencoded", **signed}
        r = self.client.post(TWILIO, data=body, headers=headers)
        assert r.status_code == 200, r.get_data(as_text=True)
        return r.get_data(as_text=True)

    def telegram(self, text: str) -> None:
        data = json.loads((PAYLOADS / "message_text.json").read_bytes())["message"]
        data["message_id"] = next(self.ids) % 100000
        data["text"] = text
        body = json.dumps({"update_id": next(self.ids), "message": data}).encode()
        signed = rows_telegram.sign(TELEGRAM, {}, body, self.rt.settings)
        r = self.client.post(
            TELEGRAM, data=body, headers={"Content-Type": "application/json", **signed}
        )
        assert (r.status_code, r.get_data()) == (200, b"{}")

    def response(self) -> tuple[Invitation, Response]:
        with self.rt.db.session() as s:
            inv = s.scalars(select(Invitation).order_by(Invitation.id.desc())).first()
            assert inv is not None and inv.response is not None
            s.expunge_all()
            return inv, inv.response


@pytest.fixture
def world(database_url: str, clock: Clock, tmp_path: Path) -> Iterator[World]:
    surveys = tmp_path / "surveys.toml"
    surveys.write_text(SURVEYS, encoding="utf-8")
    with FakeTwilio() as twilio, FakeBotApi() as bot_api:
        both = rows_sms.settings(twilio.url) | rows_telegram.settings(bot_api.url)
        env = make_settings(database_url, **both, SURVEYS_FILE=str(surveys))
        app: Flask = create_app(env)
        rt: Runtime = app.extensions["npsbot"]
        rt.clock = clock
        with rt.db.session() as s:
            key = create_key(s, "shop", clock())
        headers = {"Authorization": f"Bearer {key}"}
        try:
            yield World(rt, app.test_client(), twilio, bot_api, headers, itertools.count(1))
        finally:
            rt.close()


def make_touchpoint(w: World) -> dict[str, Any]:
    body = {"key": "store-centro", "survey": "in-store", "metadata": {"store": "Centro"}}
    r = w.api("POST", "/touchpoints", json=body)
    assert r.status_code == 201, r.get_data(as_text=True)
    made: dict[str, Any] = r.json
    return made


@at_hours
def test_whatsapp_qr_to_a_stored_response_with_the_stores_metadata(world: World) -> None:
    code = make_touchpoint(world)["code"]
    link = world.scanned("store-centro", "whatsapp")
    assert link == f"https://wa.me/{WA_FROM.lstrip('+')}?text={code}"
    prefilled = parse_qs(urlsplit(link).query)["text"][0]
    # What the customer's WhatsApp sends: the prefilled code, here with their own words around it.
    assert "<Message>" not in world.whatsapp(f"Hola! {prefilled.lower()} gracias")
    tick(world.rt)  # the dispatcher: the question goes now, at any hour (the customer is here)
    (asked,) = world.twilio.requests
    assert world.twilio.spec_problems == []
    assert (asked.form["To"], asked.form["From"]) == (f"whatsapp:{CUSTOMER}", f"whatsapp:{WA_FROM}")
    # The customer just wrote: WhatsApp's 24 h window is open, so free text, not a template.
    assert "0 al 10" in asked.form["Body"] and "ContentSid" not in asked.form
    assert "¿Qué es lo que más te gusta de nosotros?" in world.whatsapp("9")
    assert "Nos alegra mucho tu respuesta" in world.whatsapp("Me atendieron muy rápido")
    inv, resp = world.response()
    assert (resp.channel, resp.score, resp.comment) == ("whatsapp", 9, "Me atendieron muy rápido")
    assert inv.meta == {"store": "Centro", "touchpoint": "store-centro"}
    # Sending the code was the customer's consent on WhatsApp, the touchpoint its source.
    with world.rt.db.session() as s:
        (c,) = s.scalars(select(Consent))
        assert (c.channel, c.given, c.method, c.source) == (
            "whatsapp",
            True,
            "touchpoint",
            "store-centro",
        )
    r = world.api("GET", "/nps/breakdown?by=touchpoint&from=2026-01-01&to=2026-12-31")
    assert r.status_code == 200, r.get_data(as_text=True)
    groups = {g["value"]: g for g in r.json["groups"]}
    assert groups["store-centro"]["responses"] == 1 and groups["store-centro"]["nps"] == 100
    # The responses list (what exports write) filters by it and carries the metadata.
    r = world.api("GET", "/responses?touchpoint=store-centro&from=2026-01-01&to=2026-12-31")
    (item,) = r.json["items"]
    assert item["metadata"] == {"store": "Centro", "touchpoint": "store-centro"}
    assert world.api("GET", "/responses?touchpoint=other&from=2026-01-01").json["items"] == []


@at_hours
def test_telegram_deep_link_qr_to_a_stored_response_with_the_stores_metadata(
    world: World,
) -> None:
    code = make_touchpoint(world)["code"]
    link = world.scanned("store-centro", "telegram")
    assert link == f"https://t.me/acme_nps_bot?start={code}"
    # Telegram opens the chat and sends /start <payload> for the customer.
    world.telegram(f"/start {parse_qs(urlsplit(link).query)['start'][0]}")
    tick(world.rt)
    sent = [(r.path.rsplit("/", 1)[1], r.form) for r in world.bot_api.requests]
    assert world.bot_api.spec_problems == []
    (question,) = [f for m, f in sent if m == "sendMessage"]
    assert question["chat_id"] == int(ANA) and "inline_keyboard" in question["reply_markup"]
    world.telegram("10")
    world.telegram("Todo perfecto")
    tick(world.rt)
    inv, resp = world.response()
    assert (resp.channel, resp.score, resp.comment) == ("telegram", 10, "Todo perfecto")
    assert inv.meta == {"store": "Centro", "touchpoint": "store-centro"}


def test_one_survey_per_customer_per_window_and_a_rotated_or_disabled_code_is_refused(
    world: World, clock: Clock
) -> None:
    old = make_touchpoint(world)["code"]
    world.whatsapp(old)
    tick(world.rt)
    world.whatsapp("8, muy amables")  # score and reason at once: done
    # Again within the touchpoint's 24 hours: thanked, no second survey.
    assert "no volveremos a preguntarte" in world.whatsapp(f"otra vez {old}")
    clock.advance(hours=25)
    r = world.api("POST", "/touchpoints/store-centro/rotate")
    new = r.json["code"]
    assert r.status_code == 200 and new != old and r.json["enabled"] is True
    assert "ya no es válido" in world.whatsapp(old)
    world.whatsapp(new)  # after the window, the new code starts a survey again
    tick(world.rt)
    assert len(world.twilio.requests) == 2
    world.whatsapp("10")
    clock.advance(hours=25)
    assert world.api("POST", "/touchpoints/store-centro/disable").json["enabled"] is False
    assert "ya no es válido" in world.whatsapp(new)
    with world.rt.db.session() as s:
        metas = [i.meta["touchpoint"] for i in s.scalars(select(Invitation))]
    assert metas == ["store-centro", "store-centro"]
    tp, web = "touchpoint:store-centro", "127.0.0.1"  # the API's changes, by its key
    assert audit_trail(world.rt) == [
        ("api:shop", "touchpoint.create", tp, web),
        ("api:shop", "touchpoint.rotate", tp, web),
        ("api:shop", "touchpoint.disable", tp, web),
    ]

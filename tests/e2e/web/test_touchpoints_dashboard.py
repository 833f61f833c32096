"""The touchpoints pages: owners list, create, rotate and disable touchpoints; a refused form
names its field; the printable A5 card shows the business's name, the survey's question and
"scan" line in its languages, the QR code of the chosen link and the code; agents and viewers
are refused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from bot.accounts.users import create_user
from bot.runtime import Runtime
from bot.storage.models import StaffRole
from bot.survey import touchpoints as tps
from bot.web.app import create_app
from tests.conftest import Clock, make_settings
from tests.e2e.channels.rows_sms import WA_FROM
from tests.e2e.channels.rows_sms import settings as twilio_settings
from tests.e2e.web.test_dashboard import PASSWORD, csrf_of, log_in

PAGE = "/dashboard/touchpoints"


@pytest.fixture
def shop(database_url: str, clock: Clock) -> Iterator[Flask]:
    """Twilio configured (its links need no provider call), Telegram not; two people."""
    env = make_settings(database_url, **twilio_settings("http://127.0.0.1:9"))
    app = create_app({**env, "BUSINESS_NAME": "Tienda Ejemplo"})
    rt: Runtime = app.extensions["npsbot"]
    rt.clock = clock
    with rt.db.session() as s:
        create_user(s, "ana", PASSWORD, clock(), StaffRole.OWNER)
        create_user(s, "luis", PASSWORD, clock(), StaffRole.VIEWER)
    yield app
    rt.close()


def client_of(app: Flask, who: str = "ana", lang: str = "en") -> FlaskClient:
    client = app.test_client()
    assert log_in(client, who, lang=lang) == 302
    return client


def post(client: FlaskClient, path: str, **form: str) -> TestResponse:
    token = csrf_of(client.get(PAGE).get_data(as_text=True))
    return client.post(path, data={"csrf": token, **form})


def test_an_owner_creates_a_touchpoint_and_gets_its_card(shop: Flask) -> None:
    ana = client_of(shop)
    r = post(ana, PAGE, key="store-centro", survey="post-purchase", metadata="store=Centro\n")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"{PAGE}/store-centro/card")
    card = ana.get(f"{PAGE}/store-centro/card").get_data(as_text=True)
    with shop.extensions["npsbot"].db.session() as s:
        tp = tps.find(s, "store-centro")
        assert tp is not None and tp.meta == {"store": "Centro"}
        code = tp.code
    assert "Touchpoint store-centro is ready" in card
    assert "Tienda Ejemplo" in card and code in card
    assert "<svg" in card and "@media print" not in card  # the print rules live in the CSS
    # The survey's languages (the default, Spanish): its question and the "scan" line.
    assert "Escanea y cuéntanos cómo lo hicimos" in card and "qué tan probable" in card
    # WhatsApp and SMS are configured (their QR codes can be chosen), Telegram is not.
    assert "?link=whatsapp" in card and "?link=sms" in card and "?link=telegram" not in card
    listed = ana.get(PAGE).get_data(as_text=True)
    assert (
        'data-touchpoint="store-centro"' in listed and code in listed and "store=Centro" in listed
    )
    assert WA_FROM  # the card's QR holds https://wa.me/<TWILIO_WHATSAPP_FROM>?text=<code>


def test_the_card_is_a5_when_printed(shop: Flask) -> None:
    with shop.test_client().get("/dashboard/static/dashboard.css") as r:
        css = r.get_data(as_text=True)
    assert "@page { size: A5" in css


def test_a_refused_form_names_its_field_and_keeps_what_was_typed(shop: Flask) -> None:
    ana = client_of(shop)
    r = post(ana, PAGE, key="Store Centro!", survey="post-purchase", metadata="store=Centro")
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and 'name="key" value="Store Centro!"' in html
    assert "The key takes 1 to 64 lower-case letters" in html and 'aria-invalid="true"' in html
    r = post(ana, PAGE, key="store-centro", survey="post-purchase", metadata="just words")
    assert r.status_code == 422 and "key=value, one per line" in r.get_data(as_text=True)
    r = post(ana, PAGE, key="store-centro", survey="nope")
    assert r.status_code == 422 and "Choose one of the surveys" in r.get_data(as_text=True)
    assert post(ana, PAGE, key="store-centro", survey="post-purchase").status_code == 302
    r = post(ana, PAGE, key="store-centro", survey="post-purchase", metadata="store=Norte")
    assert r.status_code == 409 and "exists already" in r.get_data(as_text=True)


def test_rotate_and_disable_from_the_list(shop: Flask) -> None:
    ana = client_of(shop, lang="es")
    post(ana, PAGE, key="store-centro", survey="post-purchase")
    with shop.extensions["npsbot"].db.session() as s:
        old = tps.find(s, "store-centro")
        assert old is not None
    r = post(ana, f"{PAGE}/store-centro/rotate")
    assert r.status_code == 302
    with shop.extensions["npsbot"].db.session() as s:
        new = tps.find(s, "store-centro")
        assert new is not None and new.code != old.code
    assert "tiene un código nuevo" in ana.get(PAGE).get_data(as_text=True)
    assert post(ana, f"{PAGE}/store-centro/disable").status_code == 302
    card = ana.get(f"{PAGE}/store-centro/card").get_data(as_text=True)
    assert "está desactivado" in card
    assert post(ana, f"{PAGE}/nope/disable").status_code == 404
    assert ana.get(f"{PAGE}/nope/card").status_code == 404


def test_viewers_are_refused(shop: Flask) -> None:
    luis = client_of(shop, "luis")
    assert luis.get(PAGE).status_code == 403
    assert luis.get(f"{PAGE}/store-centro/card").status_code == 403
    assert "/dashboard/touchpoints" not in luis.get("/dashboard/").get_data(as_text=True)

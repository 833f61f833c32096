"""Consent and erasure from the chat, end to end: the real twilio client against the fake Twilio
(and the Telegram fake), on SQLite and PostgreSQL.

A survey with `whatsapp_optin = "required"` asks by WhatsApp only a customer with a recorded
opt-in, else by the next channel; STOP/START, typed or the provider's own, are consent history.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from bot.inbound.spool import REJECTED, spool_dir
from bot.runtime import Runtime
from bot.storage.models import Consent, Contact, Invitation, Message
from bot.survey.consent import Grant, record
from bot.survey.purchases import create_invitation, survey_by_key
from bot.web.app import create_app
from tests.conftest import Clock, at_hours, make_settings
from tests.e2e.channels import test_telegram_e2e as tg
from tests.e2e.channels.rows_sms import ACCOUNT, CUSTOMER, SMS_FROM, settings
from tests.e2e.channels.rows_telegram import ANA
from tests.e2e.channels.rows_telegram import settings as telegram_settings
from tests.e2e.channels.test_twilio_e2e import TEMPLATE, World
from tests.fakes.base import SPECS
from tests.fakes.bot_api import FakeBotApi
from tests.fakes.twilio_api import FakeTwilio
from tests.helpers import SandboxCustomer, send_due
from tests.unit.test_spool_forget import entry

pytestmark = pytest.mark.skipif(not SPECS.is_dir(), reason=f"provider specs not found at {SPECS}")

SURVEYS = f"""
[[survey]]
key = "post-purchase"
name = "After a purchase"
delay_minutes = 0
channels = ["whatsapp", "sms"]
whatsapp_optin = "required"

[survey.whatsapp_templates.es]
sid = "{TEMPLATE}"
"""


@pytest.fixture
def world(database_url: str, clock: Clock, tmp_path: Path) -> Iterator[World]:
    surveys = tmp_path / "surveys.toml"
    surveys.write_text(SURVEYS, encoding="utf-8")
    with FakeTwilio() as fake:
        spool = str(tmp_path / "spool")
        env = make_settings(
            database_url, **settings(fake.url), SURVEYS_FILE=str(surveys), SPOOL_DIR=spool
        )
        app = create_app(env)
        rt: Runtime = app.extensions["npsbot"]
        rt.clock = clock
        try:
            yield World(app, rt, app.test_client(), fake, iter(range(1, 10**6)))
        finally:
            rt.close()


def consents(rt: Runtime) -> list[tuple[str, bool, str, str | None]]:
    with rt.db.session() as s:
        rows = s.scalars(select(Consent).order_by(Consent.at, Consent.id))
        return [(c.channel, c.given, c.method, c.source) for c in rows]


def state(rt: Runtime, inv_id: int) -> tuple[str, str | None]:
    with rt.db.session() as s:
        inv = s.get(Invitation, inv_id)
        assert inv is not None
        return inv.state, inv.skip_reason


@at_hours
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the hours, not storage
def test_without_a_whatsapp_opt_in_the_survey_goes_by_sms(world: World, clock: Clock) -> None:
    inv_id = world.purchase(["whatsapp", "sms"])
    send_due(world.rt, clock, inv_id)
    assert [r.form["To"] for r in world.fake.requests] == [CUSTOMER]  # SMS, never WhatsApp
    assert world.question(inv_id).channel == "sms"


def test_a_recorded_opt_in_opens_whatsapp_and_keywords_are_its_history(
    world: World, clock: Clock
) -> None:
    rt = world.rt
    only_whatsapp = world.purchase(["whatsapp"])
    send_due(rt, clock, only_whatsapp)
    assert state(rt, only_whatsapp) == ("skipped", "no_consent")
    assert world.fake.requests == []
    with rt.db.session() as s:
        contact = s.scalar(select(Contact).where(Contact.phone == CUSTOMER))
        assert contact is not None
        record(s.connection(), contact.id, Grant("whatsapp", True, "checkout"), "business", clock())
        contact_id = contact.id
    clock.advance(minutes=1)
    with rt.db.session() as s:
        survey = survey_by_key(s, "post-purchase")
        contact = s.get(Contact, contact_id)
        assert survey is not None and contact is not None
        inv_id = create_invitation(s, survey, contact, now=clock(), channels=["whatsapp"]).id
    send_due(rt, clock, inv_id)
    assert [r.form["To"] for r in world.fake.requests] == [f"whatsapp:{CUSTOMER}"]
    # BAJA typed on WhatsApp; STOP handled by Twilio's Advanced Opt-Out on SMS (OptOutType).
    assert "BAJA" not in world.customer_says("whatsapp", "Baja")
    form = {
        "MessageSid": "SM" + "f" * 32,
        "AccountSid": ACCOUNT,
        "From": CUSTOMER,
        "To": SMS_FROM,
        "Body": "stop",
        "NumMedia": "0",
        "OptOutType": "STOP",
    }
    world.post("", form)
    assert consents(rt) == [
        ("whatsapp", True, "business", "checkout"),
        ("whatsapp", False, "keyword", "BAJA"),
        ("sms", False, "keyword", "STOP"),
    ]


# --- erasure from the chat: asked, confirmed (or not), gone -----------------------------------


def named(rt: Runtime, *needles: str) -> list[str]:
    """What still names the customer: contacts, consents, message addresses and texts."""
    with rt.db.session() as s:
        found = [f"contact {c.id}" for c in s.scalars(select(Contact))]
        found += [f"consent {c.id}" for c in s.scalars(select(Consent))]
        for m in s.scalars(select(Message)):
            if any(n in f"{m.address} {m.text} {m.payload}" for n in needles):
                found.append(f"message {m.id} ({m.kind}, {m.status})")
        return found


def test_borrar_mis_datos_on_whatsapp_asks_erases_and_a_later_message_starts_afresh(
    world: World, clock: Clock
) -> None:
    world.customer_says("whatsapp", "Hola, una duda sobre mi pedido")
    ask = world.customer_says("whatsapp", "Borra mis datos, por favor.")
    assert "¿Borramos todos tus datos" in ask and "Responde SÍ" in ask
    # A webhook of hers the spool could never apply, kept for an operator.
    rejected = spool_dir(world.rt.settings) / REJECTED
    rejected.parent.mkdir()
    rejected.write_bytes(entry(CUSTOMER, "mi pedido"))
    clock.advance(minutes=9)
    done = world.customer_says("whatsapp", "Sí")
    assert "Listo, borramos tus datos" in done  # inline, as TwiML
    assert named(world.rt, CUSTOMER[-8:], "pedido", "Borra mis datos", "Listo") == []
    assert rejected.read_bytes() == b""  # dropped after the commit
    clock.advance(minutes=1)
    world.customer_says("whatsapp", "Hola")
    with world.rt.db.session() as s:
        fresh = s.scalars(select(Contact)).one()
        # Made now (SQLite may give it the erased one's id again: nothing else is shared).
        assert fresh.created_at == clock() and (fresh.phone or "").endswith(CUSTOMER[-8:])
        assert s.scalars(select(Invitation)).all() == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # nothing is written
def test_delete_my_data_then_no_on_the_sandbox_erases_nothing(
    client: FlaskClient, rt: Runtime
) -> None:
    ana = SandboxCustomer(client, rt, language="en")
    ana.receive_survey()
    (ask,) = ana.says("DELETE MY DATA")
    assert ask.startswith("Shall we erase all your data")
    (no,) = ana.says("no")
    assert "erased" not in no
    assert "erased" not in " ".join(ana.says("yes"))  # the question is no longer the last word
    assert ana.invitation().contact_id is not None
    assert len(named(rt, ana.address)) >= 4  # the contact and her messages are all there


@pytest.fixture
def telegram(database_url: str, clock: Clock, tmp_path: Path) -> Iterator[tg.World]:
    surveys = tmp_path / "surveys.toml"
    surveys.write_text(tg.SURVEYS, encoding="utf-8")
    with FakeBotApi() as fake:
        env = make_settings(database_url, **telegram_settings(fake.url), SURVEYS_FILE=str(surveys))
        app = create_app(env)
        rt: Runtime = app.extensions["npsbot"]
        rt.clock = clock
        try:
            yield tg.World(app, rt, app.test_client(), fake, itertools.count(815400001))
        finally:
            rt.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # WhatsApp's runs on both
def test_apagar_meus_dados_on_telegram_the_sent_confirmation_keeps_nothing(
    telegram: tg.World, clock: Clock
) -> None:
    w = telegram
    send_due(w.rt, clock, w.purchase())  # asked in Spanish: the request's own language answers
    seen = len(w.fake.requests)
    w.types("Apagar meus dados")
    ((method, ask),) = w.calls(seen)
    assert method == "sendMessage" and ask["text"].startswith("Apagamos todos os seus dados")
    seen = len(w.fake.requests)
    w.types("SIM")
    ((method, done),) = w.calls(seen)  # through the outbox, after the commit
    assert (method, done["chat_id"]) == ("sendMessage", int(ANA))
    assert done["text"].startswith("Pronto, apagamos os seus dados")
    assert named(w.rt, ANA, "dados") == []  # the reply's row too, once sent
    with w.rt.db.session() as s:
        (inv,) = s.scalars(select(Invitation))  # the open survey is closed, anonymous
        assert (inv.contact_id, inv.state) == (None, "expired")

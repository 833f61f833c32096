"""The sandbox is a channel like the others for the API: a purchase on it makes (or takes) a
sandbox address, and its survey plays at /sandbox?address=…, at any hour, with no credentials."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bot.accounts.apikeys import create_key
from bot.events import RecordingBus
from bot.runtime import Runtime
from bot.web.app import create_app
from scheduler.loop import tick
from tests.conftest import Clock, at_hours, make_settings
from tests.integration.api.conftest import Api

QUESTION_ES = (
    "Considerando tu experiencia completa con nosotros, ¿qué tan probable es que nos "
    "recomiendes con tus amigos y familiares? Responde con un número del 0 al 10."
)


def _phone(client: FlaskClient, url: str) -> list[str]:
    address = url.split("address=", 1)[1]
    assert f'let address = "{address}"' in client.get(url).text
    r = client.get(f"/sandbox/conversation/{address}")
    return [m["text"] for m in r.json["messages"]]  # type: ignore[index]


@at_hours
def test_a_sandbox_purchase_makes_an_address_and_the_survey_plays_at_once(
    api: Api, client: FlaskClient, rt: Runtime, clock: Clock
) -> None:
    status, body = api.purchase(
        order_id="A-1", channels=["sandbox"], customer={"name": "Ana", "language": "es"}
    )
    assert status == 201, body
    assert body["status"] == "scheduled"
    assert datetime.fromisoformat(str(body["due_at"])) == clock.now  # no delay, no quiet hours
    url = str(body["sandbox_url"])
    assert url.startswith("/sandbox?address=sandbox-")
    tick(rt)
    assert _phone(client, url) == [QUESTION_ES]


def test_a_customer_can_be_given_a_sandbox_address(
    api: Api, client: FlaskClient, rt: Runtime
) -> None:
    customer = {"id": "C-7", "sandbox": "sandbox-ana", "language": "es"}
    status, body = api.purchase(order_id="A-2", channels=["sandbox"], customer=customer)
    assert (status, body["sandbox_url"]) == (201, "/sandbox?address=sandbox-ana")
    tick(rt)
    assert _phone(client, "/sandbox?address=sandbox-ana") == [QUESTION_ES]


def test_a_purchase_on_a_real_channel_has_no_sandbox_url(api: Api) -> None:
    status, body = api.purchase(order_id="A-3", customer={"phone": "+525512345678"})
    assert (status, body["sandbox_url"], body["channel"]) == (201, None, None)


@pytest.mark.parametrize(
    ("customer", "reason"),
    [
        ({"sandbox": "ana"}, "not a sandbox address (like sandbox-1a2b3c): 'ana'"),
        ({"sandbox": "sandbox-<b>"}, "not a sandbox address (like sandbox-1a2b3c): 'sandbox-<b>'"),
    ],
)
def test_a_bad_sandbox_address_names_the_field(
    api: Api, customer: dict[str, str], reason: str
) -> None:
    status, body = api.purchase(order_id="A-4", channels=["sandbox"], customer=customer)
    assert (status, body["field"], body["reason"]) == (422, "customer.sandbox", reason)


def test_another_customers_sandbox_address_is_refused(api: Api) -> None:
    api.purchase(
        order_id="A-5", channels=["sandbox"], customer={"id": "C-1", "sandbox": "sandbox-x"}
    )
    status, body = api.purchase(
        order_id="A-6", channels=["sandbox"], customer={"id": "C-2", "sandbox": "sandbox-x"}
    )
    assert (status, body["field"]) == (422, "customer.sandbox")


@pytest.fixture
def bare(database_url: str, clock: Clock, bus: RecordingBus) -> Iterator[Flask]:
    """A server with no credentials at all, as `make run` starts one."""
    app = create_app(make_settings(database_url), bus=bus)
    app.extensions["npsbot"].clock = clock
    yield app
    app.extensions["npsbot"].close()


def test_with_no_credentials_the_refusal_says_to_use_the_sandbox(bare: Flask) -> None:
    rt: Runtime = bare.extensions["npsbot"]
    with rt.db.session() as s:
        key = create_key(s, "shop", rt.clock())
    api = Api(bare.test_client(), key)
    status, body = api.purchase(order_id="B-1", customer={"phone": "+525512345678"})
    assert (status, body["field"]) == (422, "channels")
    assert 'try channels: ["sandbox"]' in str(body["reason"])
    status, body = api.purchase(order_id="B-1", channels=["sandbox"], customer={"name": "Ana"})
    assert status == 201


@at_hours
def test_a_delivered_sandbox_order_stays_due_at_once(
    api: Api, client: FlaskClient, clock: Clock
) -> None:
    api.purchase(order_id="D-1", channels=["sandbox"], customer={"name": "Ana"})
    r = client.post("/api/v1/purchases/D-1/delivered", json={}, headers=api.headers)
    assert r.status_code == 200
    assert datetime.fromisoformat(r.json["due_at"]) == clock.now  # type: ignore[index]

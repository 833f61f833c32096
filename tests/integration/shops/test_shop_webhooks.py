"""Shops' order webhooks, replayed row by row (cases.py): what each answers and stores.

Rows about storage (a purchase registered, skipped, deduplicated, retried) run on both
databases; rows refused or ignored before anything is stored run on SQLite only."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from bot.events import RecordingBus
from bot.integrations.shops.admin import NewShop, add_shop
from bot.runtime import Runtime
from bot.storage.models import Invitation, ShopEvent
from bot.web.app import create_app
from tests.conftest import Clock, make_settings
from tests.e2e.channels.rows_sms import settings as twilio_settings
from tests.fakes.base import Answer
from tests.fakes.tiendanube_api import FakeTiendanube
from tests.integration.shops.cases import ShopCase, ShopRows
from tests.integration.shops.rows_shopify import SHOPIFY
from tests.integration.shops.rows_tiendanube import TIENDANUBE, TOKEN
from tests.integration.shops.rows_woocommerce import WOOCOMMERCE

PAYLOADS = Path(__file__).resolve().parents[2] / "payloads"
SHOPS = (SHOPIFY, WOOCOMMERCE, TIENDANUBE)
SURVEYS = """
[[survey]]
key = "post-purchase"
name = "After a purchase"
delay_minutes = 120
channels = ["whatsapp", "sms"]
"""


def _rows(both: bool) -> list[Any]:
    return [
        pytest.param(shop, case, id=case.label)
        for shop in SHOPS
        for case in shop.rows
        if case.both_databases == both
    ]


@pytest.fixture(scope="module")
def store_api() -> Iterator[FakeTiendanube]:
    with FakeTiendanube(TOKEN) as fake:
        yield fake


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "npsbot.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.mark.parametrize(("shop", "case"), _rows(both=True))
def test_stored_rows(
    shop: ShopRows,
    case: ShopCase,
    database_url: str,
    tmp_path: Path,
    clock: Clock,
    store_api: FakeTiendanube,
) -> None:
    replay(shop, case, database_url, tmp_path, clock, store_api)


@pytest.mark.parametrize(("shop", "case"), _rows(both=False))
def test_refused_and_ignored_rows(
    shop: ShopRows,
    case: ShopCase,
    sqlite_url: str,
    tmp_path: Path,
    clock: Clock,
    store_api: FakeTiendanube,
) -> None:
    replay(shop, case, sqlite_url, tmp_path, clock, store_api)


def _app(url: str, tmp_path: Path, clock: Clock, store_api: FakeTiendanube, **extra: str) -> Flask:
    surveys = tmp_path / "surveys.toml"
    surveys.write_text(SURVEYS, encoding="utf-8")
    env = make_settings(
        url,
        **twilio_settings("http://127.0.0.1:9"),
        SURVEYS_FILE=str(surveys),
        TIENDANUBE_API_URL=store_api.url,
        TIENDANUBE_USER_AGENT="npsbot tests (ops@example.com)",
        **extra,
    )
    app = create_app(env, bus=RecordingBus())
    app.extensions["npsbot"].clock = clock
    return app


def _body(case: ShopCase, name: str | None = None, overrides: Any = None) -> bytes:
    if case.body is not None and name is None:
        return case.body
    raw = (PAYLOADS / (name or case.payload)).read_bytes()
    changes = case.overrides if overrides is None else overrides
    if not changes:
        return raw
    return json.dumps({**json.loads(raw), **changes}).encode()


def replay(
    shop: ShopRows,
    case: ShopCase,
    url: str,
    tmp_path: Path,
    clock: Clock,
    store_api: FakeTiendanube,
) -> None:
    app = _app(url, tmp_path, clock, store_api)
    rt: Runtime = app.extensions["npsbot"]
    try:
        add_shop(
            rt,
            NewShop(
                shop.key,
                shop.platform,
                shop.secret,
                topics=case.topics or shop.topics,
                store_id=shop.store_id,
                access_token=shop.access_token,
            ),
        )
        body = _body(case)
        headers = {**shop.headers, **case.headers, "Content-Type": case.content_type}
        if case.signing != "missing":
            secret = shop.secret if case.signing == "valid" else "not-the-shop-secret"
            headers |= shop.sign(secret, body)
        store_api.answers.clear()
        store_api.requests.clear()
        store_api.spec_problems.clear()
        if case.store_order is not None:
            order = json.loads(_body(case, case.store_order, case.store_overrides))
            store_api.queue(Answer(case.store_status, order if case.store_status == 200 else {}))
            if case.retried:
                store_api.queue(Answer(200, order))

        def post() -> Any:
            return app.test_client().post(
                f"/integrations/{shop.platform}/{shop.key}", data=body, headers=headers
            )

        first = post()
        assert first.status_code == case.status, first.get_json()
        reply = first.get_json()
        assert {k: reply.get(k) for k in case.reply} == dict(case.reply), reply
        if case.reason_contains is not None:
            assert case.reason_contains in reply["reason"], reply
        if case.retried:
            assert _stored(rt) == ([], ["received"]), "the event waits for the shop's retry"
            again = post()
            assert again.status_code == 200 and again.get_json()["status"] == "registered"
        if case.duplicate:
            again = post()
            assert again.status_code == 200, again.get_json()
            assert again.get_json()["status"] == "duplicate"
        invitations, states = _stored(rt)
        assert states == ([case.event_state] if case.event_state else [])
        if case.order_id is None:
            assert invitations == []
        else:
            assert len(invitations) == 1, "one purchase, however often the shop sends it"
            inv = invitations[0]
            assert inv["order_id"] == case.order_id
            assert inv["phone"] == case.phone
            if case.name is not None:
                assert inv["name"] == case.name
            if case.language is not None:
                assert inv["language"] == case.language
            assert {k: inv["meta"].get(k) for k in case.metadata} == dict(case.metadata)
        assert store_api.spec_problems == []
        if case.store_order is not None:
            assert {r.path for r in store_api.requests} == {"/v1/123/orders/450789469"}
    finally:
        rt.close()


def _stored(rt: Runtime) -> tuple[list[dict[str, Any]], list[str]]:
    with rt.db.session() as s:
        invitations = [
            {
                "order_id": inv.order_id,
                "phone": inv.contact.phone,
                "name": inv.contact.name,
                "language": inv.contact.language,
                "meta": inv.meta,
            }
            for inv in s.scalars(select(Invitation).order_by(Invitation.id))
        ]
        states = list(s.scalars(select(ShopEvent.state).order_by(ShopEvent.id)))
    return invitations, states


def test_an_unknown_shop_or_platform_is_404_and_nothing_is_stored(
    sqlite_url: str, tmp_path: Path, clock: Clock, store_api: FakeTiendanube
) -> None:
    app = _app(sqlite_url, tmp_path, clock, store_api)
    rt: Runtime = app.extensions["npsbot"]
    try:
        add_shop(rt, NewShop("acme", "shopify", SHOPIFY.secret))
        body = (PAYLOADS / "shopify/orders_fulfilled.json").read_bytes()
        headers = {**SHOPIFY.headers, **SHOPIFY.sign(SHOPIFY.secret, body)}
        client = app.test_client()
        for path in (
            "/integrations/shopify/nope",
            "/integrations/woocommerce/acme",
            "/integrations/magento/acme",
            "/integrations/shopify/ACME%00",
        ):
            r = client.post(path, data=body, headers=headers)
            assert r.status_code == 404 and r.get_json()["error"] == "not_found", path
        assert _stored(rt) == ([], [])
    finally:
        rt.close()


def test_a_shop_declared_in_shops_file_registers_like_an_added_one(
    sqlite_url: str, tmp_path: Path, clock: Clock, store_api: FakeTiendanube
) -> None:
    shops = tmp_path / "shops.toml"
    shops.write_text(
        f'[[shop]]\nkey = "acme"\nplatform = "shopify"\nsecret = "{SHOPIFY.secret}"\n',
        encoding="utf-8",
    )
    app = _app(sqlite_url, tmp_path, clock, store_api, SHOPS_FILE=str(shops))
    rt: Runtime = app.extensions["npsbot"]
    try:
        order = json.loads((PAYLOADS / "shopify/orders_fulfilled.json").read_bytes())
        body = json.dumps({**order, "phone": "+525512345678"}).encode()
        headers = {**SHOPIFY.headers, **SHOPIFY.sign(SHOPIFY.secret, body)}
        r = app.test_client().post("/integrations/shopify/acme", data=body, headers=headers)
        assert r.status_code == 200 and r.get_json()["status"] == "registered", r.get_json()
        invitations, states = _stored(rt)
        assert [i["phone"] for i in invitations] == ["+525512345678"] and states == ["registered"]
    finally:
        rt.close()

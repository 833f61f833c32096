"""How a shop's order becomes a purchase, and its signature check: pure functions, no app.

(The webhooks end to end, storage included, are the rows of tests/integration/shops/.)"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest

from bot.integrations.shops import shopify, tiendanube, woocommerce
from bot.integrations.shops.common import ShopConfig, first_phone, language, signed
from bot.integrations.shops.declared import parse
from bot.integrations.shops.registry import Refused
from bot.survey.purchases import parse_purchase

PAYLOADS = Path(__file__).resolve().parents[1] / "payloads"
SHOP = ShopConfig(
    key="acme", platform="shopify", secret="s3cret-s3cret", topics=("orders/fulfilled",)
)


def _order(name: str, **changes: Any) -> dict[str, Any]:
    order: dict[str, Any] = json.loads((PAYLOADS / name).read_text())
    return {**order, **changes}


def test_the_signature_is_an_hmac_sha256_of_the_raw_body_compared_whole() -> None:
    body = b'{"id": 1}'
    digest = hmac.new(b"secret", body, hashlib.sha256).digest()
    assert signed("secret", body, base64.b64encode(digest).decode(), "base64")
    assert signed("secret", body, digest.hex(), "hex")
    assert not signed("secret", body, digest.hex(), "base64")  # Tiendanube's hex is not Shopify's
    assert not signed("secret", body + b" ", base64.b64encode(digest).decode(), "base64")
    assert not signed("secret", body, None, "hex") and not signed("secret", body, "", "hex")
    assert not signed("", body, base64.b64encode(digest).decode(), "base64")


@pytest.mark.parametrize(
    ("candidates", "phone"),
    [
        ([("55 1234 5678", "MX"), ("+34 612 345 678", "ES")], "+525512345678"),
        ([(None, "MX"), ("", "MX"), ("612 345 678", "ES")], "+34612345678"),
        # A US placeholder is no number, even though read as Mexican it would be one.
        ([("555-555-SHIP", "US"), ("555-555-BILL", "US")], None),
        ([("not a phone", "MX"), ("+52 1 55 1234 5678", "US")], "+525512345678"),
    ],
)
def test_the_first_valid_phone_wins_read_with_its_address_country(
    candidates: list[tuple[Any, str]], phone: str | None
) -> None:
    assert first_phone(candidates) == phone


@pytest.mark.parametrize(
    ("locale", "lang"), [("es-MX", "es"), ("pt_BR", "pt"), ("EN", "en"), ("fr", None), (None, None)]
)
def test_the_order_locale_gives_the_language_npsbot_speaks(locale: Any, lang: str | None) -> None:
    assert language(locale) == lang


def test_shopify_phone_order_then_customer_then_shipping_then_billing() -> None:
    order = _order("shopify/orders_fulfilled.json", customer_locale="es-MX")
    mx = {"country_code": "MX", "phone": "55 1111 2222", "name": "Steve Shipper"}
    assert shopify.purchase(SHOP, order, "MX")["customer"] == {
        "name": "John Smith",
        "language": "es",
    }
    order["billing_address"] = {**order["billing_address"], **mx, "phone": "55 3333 4444"}
    assert shopify.purchase(SHOP, order, "MX")["customer"]["phone"] == "+525533334444"
    order["shipping_address"] = {**order["shipping_address"], **mx}
    assert shopify.purchase(SHOP, order, "MX")["customer"]["phone"] == "+525511112222"
    order["customer"] = {**order["customer"], "phone": "+525555556666"}
    assert shopify.purchase(SHOP, order, "MX")["customer"]["phone"] == "+525555556666"
    order["phone"] = "+525577778888"
    assert shopify.purchase(SHOP, order, "MX")["customer"]["phone"] == "+525577778888"


def test_a_mapped_order_is_a_purchase_the_api_accepts() -> None:
    """The mapping's output goes through the API's own parse_purchase: the same contract."""
    cases = [
        (shopify, "shopify/orders_fulfilled.json", {"phone": "+525512345678"}),
        (woocommerce, "woocommerce/order_completed.json", {"billing": {"phone": "+525512345678"}}),
        (tiendanube, "tiendanube/order.json", {"contact_phone": "+5491123456789"}),
    ]
    for module, name, changes in cases:
        body = module.purchase(SHOP, _order(name, **changes), "MX")
        parsed = parse_purchase({**body, "order_id": f"{module.__name__}:1"}, country="MX")
        assert parsed.metadata["items"], module.__name__


def test_a_long_order_keeps_its_first_lines_within_the_metadata_limit() -> None:
    lines = [{"name": f"Camisa talla {i} " + "ñ" * 90, "quantity": 1} for i in range(60)]
    body = woocommerce.purchase(
        SHOP, _order("woocommerce/order_completed.json", line_items=lines), "MX"
    )
    meta = body["metadata"]
    assert len(json.dumps(meta)) <= 4096
    assert meta["items"][0]["name"].startswith("Camisa talla 0 ")
    assert len(meta["items"]) + meta["more_items"] == 20  # at most 20 lines are kept at all


def test_woocommerce_reads_a_multilingual_sites_order_language() -> None:
    order = _order(
        "woocommerce/order_completed.json",
        meta_data=[{"id": 1, "key": "wpml_language", "value": "pt-br"}],
    )
    assert woocommerce.purchase(SHOP, order, "MX")["customer"]["language"] == "pt"


def test_tiendanube_contact_phone_then_customer_then_billing_then_shipping() -> None:
    order = _order("tiendanube/order.json")  # the documented example's phones are US placeholders
    assert "phone" not in tiendanube.purchase(SHOP, order, "AR")["customer"]
    order["shipping_address"] = {
        **order["shipping_address"],
        "phone": "11 2345-6789",
        "country": "AR",
    }
    assert tiendanube.purchase(SHOP, order, "AR")["customer"]["phone"] == "+541123456789"
    order["customer"] = {**order["customer"], "phone": "+55 11 99999-9999"}
    assert tiendanube.purchase(SHOP, order, "AR")["customer"]["phone"] == "+5511999999999"


def test_shops_file_declares_shops_checked_like_shops_add() -> None:
    shops = parse(
        '[[shop]]\nkey = "nube"\nplatform = "tiendanube"\nsecret = "tn-secret-1"\n'
        'store_id = 123\naccess_token = "tok"\ntopics = ["order/fulfilled", "order/paid"]\n'
    )
    assert shops["nube"].store_id == "123"
    assert shops["nube"].topics == ("order/fulfilled", "order/paid")
    assert "tok" not in repr(shops["nube"]) and "tn-secret-1" not in repr(shops["nube"])


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('[[shop]]\nkey = "a"\nplatform = "magento"\nsecret = "12345678"', "no platform 'magento'"),
        ('[[shop]]\nkey = "a"\nplatform = "tiendanube"\nsecret = "12345678"', "store id"),
        ('[[shop]]\nkey = "a"\nplatform = "shopify"\nsecret = "12345678"\ncolour = 1', "colour"),
        ('[[shop]]\nkey = "A B"\nplatform = "shopify"\nsecret = "12345678"', "lower-case"),
        ('[[shop]]\nkey = "a"\nplatform = "shopify"', "required"),
        ("[[shop]\n", "not TOML"),
    ],
)
def test_a_shops_file_that_cannot_work_is_refused_naming_the_entry(text: str, says: str) -> None:
    with pytest.raises(Refused, match=says):
        parse(text)

"""Which purchase metadata an erasure drops (bot.privacy.erasure): keys that name a person, in
any case or language, and values that mention the person; the business's own tags stay."""

from __future__ import annotations

import pytest

from bot.privacy.erasure import personal_key, scrub_meta


@pytest.mark.parametrize(
    "key",
    ["name", "customer_email", "CustomerId", "NomeCliente", "telefono", "shipping-address", "cpf"],
)
def test_a_key_that_names_a_person_is_personal(key: str) -> None:
    assert personal_key(key)


@pytest.mark.parametrize("key", ["store", "order_total", "sku", "channel_group", "delivered_at"])
def test_the_business_own_tags_are_not(key: str) -> None:
    assert not personal_key(key)


def test_a_value_that_mentions_the_person_goes_with_its_key_and_the_rest_stays() -> None:
    meta = {
        "store": "Centro",
        "gift_for": "Zoraida Q.",
        "notes": ["call +5215512345678"],
        "total": 120,
        "email": "x@example.com",
    }
    needles = ["zoraida q.", "+5215512345678", "5215512345678"]
    assert scrub_meta(meta, needles) == {"store": "Centro", "total": 120}

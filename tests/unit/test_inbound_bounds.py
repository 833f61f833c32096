"""`clean_inbound`: the one place an inbound message is made storable (issue 16, finding 1)."""

from __future__ import annotations

from bot.storage.messages import ADDRESS_MAX, NAME_MAX, PROVIDER_ID_MAX, clean_id, clean_inbound
from channels.base import Inbound


def test_nul_and_lone_surrogates_are_removed_from_every_text_field() -> None:
    m = clean_inbound(
        Inbound(
            channel="telegram",
            provider_id="1\x00",
            sender="55\x0012",
            text="9\x00 \ud800",
            sender_name="Ana\x00",
            button="b\x00",
            reply_to="r\udfff",
        )
    )
    assert (m.provider_id, m.sender, m.text, m.sender_name, m.button, m.reply_to) == (
        "1",
        "5512",
        "9 ?",
        "Ana",
        "b",
        "r?",
    )


def test_over_long_fields_are_cut_to_their_columns() -> None:
    m = clean_inbound(
        Inbound(channel="sms", provider_id="SM1", sender="+" + "5" * 99, sender_name="N" * 999)
    )
    assert len(m.sender) == ADDRESS_MAX and m.sender_name == "N" * NAME_MAX


def test_an_over_long_provider_id_stays_unique_and_the_same_on_every_redelivery() -> None:
    a, b = "SM" + "a" * 300, "SM" + "a" * 299 + "b"
    assert clean_id(a) == clean_id(a) != clean_id(b)
    assert len(clean_id(a)) == PROVIDER_ID_MAX
    assert clean_id("SM" + "a" * 126) == "SM" + "a" * 126  # one that fits is kept as is


def test_a_media_count_is_bounded() -> None:
    m = clean_inbound(Inbound(channel="sms", provider_id="x", sender="+1", media_count=10**30))
    assert m.media_count == 1_000
    assert (
        clean_inbound(
            Inbound(channel="sms", provider_id="x", sender="+1", media_count=-3)
        ).media_count
        == 0
    )

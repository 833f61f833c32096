"""Touchpoint codes: made from the key, found in what customers really send, and what the
conversation answers to one (its survey now, "no longer valid", or "you told us recently")."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.storage.models import InvitationState as S
from bot.survey.codes import ALPHABET, find_code, make_code, message_code
from bot.survey.conversation import ConsentChange, Entry, Facts, Survey, Turn, step

NOW = datetime(2026, 11, 22, 15, tzinfo=UTC)


def test_a_code_is_the_prefix_six_characters_of_the_key_and_three_random_ones() -> None:
    assert make_code("store-centro", "7K4") == "NPS-STOREC7K4"
    assert make_code("a.b", "XYZ") == "NPS-ABXYZ"
    code = make_code("centro")
    assert code.startswith("NPS-CENTRO") and len(code) == 13
    assert all(ch in ALPHABET for ch in code[-3:])


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("NPS-CENTRO7K4", "NPS-CENTRO7K4"),
        ("nps-centro7k4", "NPS-CENTRO7K4"),  # any case
        ("Hola! NPS-CENTRO7 gracias", "NPS-CENTRO7"),  # text around it
        ("Hola!NPS-CENTRO7.", "NPS-CENTRO7"),  # punctuation touching it
        ("mi código es: Nps-Centro7k4\n🙂", "NPS-CENTRO7K4"),
        ("/start NPS-CENTRO7K4", "NPS-CENTRO7K4"),
        ("9", None),
        ("nps 9", None),
        ("NPS-", None),
        ("NPS-AB", None),  # too short to be one of ours
        ("XNPS-CENTRO7", None),  # inside a longer word
        ("NPS-CENTRO7K4Z99999999999", None),  # longer than any code
        ("la entrega tardó, NPS 3", None),
    ],
)
def test_find_code_in_what_customers_send(text: str, code: str | None) -> None:
    assert find_code(text) == code


def test_a_deep_link_payload_counts_only_when_it_is_a_whole_code() -> None:
    """A purchase's random link token may hold "NPS-…" by chance: only a whole code counts."""
    assert message_code("/start nps-centro7k4", "nps-centro7k4") == "NPS-CENTRO7K4"
    assert message_code("/start a_NPS-CENTRO7K4_b", "a_NPS-CENTRO7K4_b") is None
    assert message_code("Hola NPS-CENTRO7K4", None) == "NPS-CENTRO7K4"


def facts(entry: Entry | None, **kw: object) -> Facts:
    return Facts(now=NOW, contact_id=1, text="Hola NPS-CENTRO7K4", entry=entry, **kw)  # type: ignore[arg-type]


# Sending a live code is the customer's consent on that channel, the touchpoint its source.
CODE_CONSENT = ConsentChange(True, "touchpoint", "centro")


def test_a_live_code_starts_its_survey_now_with_no_reply_of_its_own() -> None:
    """The question itself is the answer: the dispatcher sends it at once."""
    turn = step(facts(Entry(valid=True, key="centro")))
    assert turn == Turn(start_touchpoint=True, consent=CODE_CONSENT)


def test_a_disabled_or_rotated_away_code_says_it_is_no_longer_valid() -> None:
    assert step(facts(Entry(valid=False))) == Turn(("code_invalid",))


@pytest.mark.parametrize("skip", ["touchpoint_window", "open_invitation", "resurvey_window"])
def test_within_the_abuse_bound_or_the_survey_rules_the_customer_is_thanked(skip: str) -> None:
    turn = step(facts(Entry(valid=True, skip=skip, key="centro")))
    assert turn == Turn(("code_wait",), consent=CODE_CONSENT)


def test_a_code_comes_before_the_open_survey_and_the_deep_link() -> None:
    """A /start with a code on Telegram, or a code typed while a survey is open: the code."""
    open_survey = Survey(id=7, state=S.ASKED)
    turn = step(facts(Entry(valid=True, key="centro"), survey=open_survey, deep_link=True))
    assert turn == Turn(start_touchpoint=True, consent=CODE_CONSENT)


def test_without_a_code_nothing_changes() -> None:
    assert step(facts(None)).start_touchpoint is False

"""Every refusal of `bot.accounts` has a sentence on the team page (translated like every
dashboard text: tests/unit/test_dashboard_catalogs.py), naming a field of its form."""

from __future__ import annotations

from typing import get_args

from bot.accounts.errors import Code
from bot.web.dashboard.team import ERRORS

FIELDS = {"username", "role", "password", "name", ""}


def test_every_refusal_code_has_a_sentence_and_a_field() -> None:
    assert set(ERRORS) == set(get_args(Code))
    assert {field for field, _text in ERRORS.values()} <= FIELDS

"""The web survey page's pure parts: its signed token, and the conversation's form facts (a
page's field is never a keyword, a why is never a score, an empty why is "no comment")."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.storage.models import InvitationState as S
from bot.survey.conversation import Facts, Survey, Turn, Voice, step
from bot.survey.weblink import read_token, token
from channels import registry

SECRET = "s" * 64
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_a_token_names_its_invitation_and_reads_back() -> None:
    t = token(SECRET, 42)
    assert read_token(SECRET, t) == 42
    assert token(SECRET, 42) == t  # the same URL every time it is asked
    assert token(SECRET, 43) != t
    assert len(t) < 64 and t.isascii() and "/" not in t  # fits a URL path segment


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(token("another secret", 42), id="another-secret"),
        pytest.param(token(SECRET, 42)[:-1] + "A", id="altered-signature"),
        pytest.param("NDM." + token(SECRET, 42).split(".")[1], id="43-with-42s-signature"),
        pytest.param("", id="empty"),
        pytest.param("42", id="a-bare-id"),
        pytest.param("not.a.token", id="garbage"),
    ],
)
def test_a_forged_or_altered_token_names_nothing(raw: str) -> None:
    assert read_token(SECRET, raw) is None


def test_a_genuine_token_of_something_else_names_nothing() -> None:
    from bot.survey.weblink import _signer

    for value in ("42", True, -1, 0, [42], None):
        assert read_token(SECRET, _signer(SECRET).dumps(value)) is None


def test_the_web_channel_is_a_page_that_reaches_everyone() -> None:
    caps = registry.capabilities("web")
    assert caps.page and not caps.phone_address and not caps.needs_deep_link and caps.rate is None
    assert registry.named(page=True) == ("web",)


AWAITING = Survey(id=1, state=S.AWAITING_REASON, language="es", score=6)


def form(text: str, survey: Survey = AWAITING) -> Turn:
    return step(Facts(now=NOW, contact_id=7, text=text, survey=survey, form=True))


@pytest.mark.parametrize("why", ["10", "BAJA", "stop", "ayuda", "9 de 10"])
def test_a_why_typed_on_the_page_is_a_comment_whatever_it_says(why: str) -> None:
    assert form(why) == Turn(
        ("thanks_detractor",),
        voice=Voice.SURVEY,
        state=S.COMPLETED,
        comment=why,
        completed=True,
    )


def test_an_empty_why_on_the_page_completes_without_a_comment() -> None:
    assert form("  ") == Turn(
        ("thanks_detractor",), voice=Voice.SURVEY, state=S.COMPLETED, completed=True
    )


def test_in_a_chat_an_empty_message_still_asks_why_again() -> None:
    turn = step(Facts(now=NOW, contact_id=7, text="", survey=AWAITING))
    assert (turn.replies, turn.completed) == (("why_detractor",), False)


def test_staff_cannot_reply_on_the_page_and_are_told_why() -> None:
    from bot.staff.reply import refusal
    from bot.storage.models import ContactChannel

    cc = ContactChannel(channel="web", address="web-7")
    refused = refusal("open", 1, "¿Nos llama?", "web", cc, NOW, template=False)
    assert refused is not None and refused.code == "not_reachable"
    assert refused.params == {"channel": "Web"}

"""A customer's erasure request from the chat, in the pure conversation: recognised in its
close variants (es/en/pt), never in an ordinary comment; confirmed only by a yes soon after the
question (`bot.survey.erase_words`, `conversation.step`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.storage.models import InvitationState as S
from bot.survey.conversation import Facts, Survey, Turn, Voice, step
from bot.survey.erase_words import CONFIRM_WINDOW, affirmative, request

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("BORRAR MIS DATOS", "es"),
        ("borra mis datos por favor", "es"),
        ("Por favor, eliminen mis datos.", "es"),
        ("Quiero que borren todos mis datos", "es"),
        ("eliminar mis datos personales!", "es"),
        ("DELETE MY DATA", "en"),
        ("Please delete my data", "en"),
        ("erase my data.", "en"),
        ("I want you to delete all my personal data please", "en"),
        ("APAGAR MEUS DADOS", "pt"),
        ("excluir meus dados", "pt"),
        ("Por favor, apaguem todos os meus dados", "pt"),
    ],
)
def test_a_request_is_recognised_with_its_language(text: str, language: str) -> None:
    assert request(text) == language


@pytest.mark.parametrize(
    "text",
    [
        "no borren mi pedido",
        "no borren mis datos",
        "borraron mi pedido y nadie me avisó, 3",
        "please don't delete my data",
        "my data plan is great, 9",
        "datos",
        "",
        "borrar",
        "apagar a luz da loja",
    ],
)
def test_an_ordinary_comment_is_not_a_request(text: str) -> None:
    assert request(text) is None


@pytest.mark.parametrize("text", ["SÍ", "si", "Sí.", "yes", "YES!", "sim", "Sim"])
def test_a_yes_confirms(text: str) -> None:
    assert affirmative(text)


@pytest.mark.parametrize("text", ["no", "9", "sí, pero no borren", "yes 10", "s"])
def test_anything_else_does_not(text: str) -> None:
    assert not affirmative(text)


OPEN = Survey(id=1, state=S.ASKED, language="es")


def said(text: str, **given: object) -> Facts:
    return Facts(now=NOW, contact_id=7, text=text, **given)  # type: ignore[arg-type]


def test_a_request_asks_to_confirm_in_its_language_even_during_a_survey() -> None:
    assert step(said("DELETE MY DATA", survey=OPEN)) == Turn(("erase_confirm",), language="en")


def test_a_yes_within_the_window_erases_in_the_question_s_language() -> None:
    asked = NOW - CONFIRM_WINDOW + timedelta(seconds=1)
    turn = step(said("SIM", erase_asked=asked, erase_language="pt"))
    assert turn == Turn(("erased",), erase=True, language="pt")


def test_the_request_again_also_confirms() -> None:
    turn = step(said("borrar mis datos", erase_asked=NOW - timedelta(minutes=1)))
    assert turn == Turn(("erased",), erase=True, language="es")


def test_a_yes_after_the_window_is_an_ordinary_message() -> None:
    turn = step(said("sí", erase_asked=NOW - CONFIRM_WINDOW - timedelta(seconds=1)))
    assert not turn.erase and turn.replies == ("no_survey",)


def test_anything_else_cancels_and_is_handled_as_usual() -> None:
    """ "no", or a score for the open survey: nothing erased, the survey goes on."""
    asked = NOW - timedelta(minutes=1)
    assert step(said("no", erase_asked=asked)) == Turn(("no_survey",))
    turn = step(said("9", erase_asked=asked, survey=OPEN))
    assert not turn.erase and turn.score == 9 and turn.voice is Voice.SURVEY


def test_a_tapped_button_or_the_survey_page_never_erases() -> None:
    asked = NOW - timedelta(minutes=1)
    assert not step(said("yes", erase_asked=asked, button=True)).erase
    assert step(said("borrar mis datos", form=True, survey=OPEN)).replies != ("erase_confirm",)

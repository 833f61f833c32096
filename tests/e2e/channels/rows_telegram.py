"""Telegram rows: real Bot API updates in, real python-telegram-bot calls out.

Inbound payloads are Update objects as Telegram POSTs them (tests/payloads/telegram/). The
webhook is authenticated by the X-Telegram-Bot-Api-Secret-Token header only; updates we do not
handle (edits, channel posts, polls, unknown future types) are answered 200 and store nothing, so
Telegram does not retry them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from channels.base import Button
from channels.telegram.admin import SECRET_HEADER, webhook_secret
from tests.e2e.channels.cases import InboundCase, OutboundCase, ProviderAnswer
from tests.fakes.bot_api import (
    BLOCKED,
    CHAT_NOT_FOUND,
    DEACTIVATED,
    NOT_MODIFIED,
    QUERY_TOO_OLD,
    SERVER_ERROR,
    TOKEN,
    UNAUTHORIZED,
    FakeBotApi,
    flood,
)

if TYPE_CHECKING:
    from bot.config import Settings

FAKE = FakeBotApi
PAYLOAD_FORMAT = "json"
SECRET = "wh-secret_0123456789abcdefABCDEF"
ANA = "5512345678"


def settings(fake_url: str) -> dict[str, str]:
    """Env enabling Telegram against the fake. TELEGRAM_API_URL has the default's shape,
    "<server>/bot": python-telegram-bot appends the token and "/<method>"."""
    return {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "TELEGRAM_API_URL": fake_url + "/bot",
        "HTTP_TIMEOUT": "1",
    }


def sign(url: str, form: Mapping[str, str], body: bytes, settings: Settings) -> dict[str, str]:
    """Telegram authenticates a webhook with the secret token alone (no body signature)."""
    return {SECRET_HEADER: webhook_secret(settings)}


def _in(label: str, payload: str, **kw: object) -> InboundCase:
    return InboundCase(label=label, route="telegram", payload=f"telegram/{payload}", **kw)


INBOUND: list[InboundCase] = [
    # --- a typed score, and the secret token ---------------------------------------------
    _in(
        "telegram-text-score",
        "message_text.json",
        given=("open_survey",),
        channel="telegram",
        text="9",
        sender=ANA,
        provider_id="815300001",
        body_contains=("{}",),
    ),
    _in("telegram-text-wrong-secret", "message_text.json", signing="invalid", status=403),
    _in("telegram-text-missing-secret", "message_text.json", signing="missing", status=403),
    _in(
        "telegram-text-redelivered",
        "message_text.json",
        given=("open_survey",),
        channel="telegram",
        text="9",
        sender=ANA,
        provider_id="815300001",
        duplicate=True,
    ),
    # update_id is the idempotency key: the same message under another id is a new update.
    _in(
        "telegram-text-new-update-id",
        "message_text.json",
        overrides={"update_id": 815300101},
        channel="telegram",
        text="9",
        sender=ANA,
        provider_id="815300101",
    ),
    _in(
        "telegram-text-score-in-words",
        "message_words.json",
        given=("open_survey",),
        channel="telegram",
        text="nueve, el envío llegó rápido",
        sender=ANA,
        provider_id="815300002",
    ),
    # A contact the API or a purchase made with this chat id, who writes before any survey.
    _in(
        "telegram-first-text-from-a-known-chat-id-joins-its-contact",
        "message_text.json",
        given=("known_contact",),
        channel="telegram",
        text="9",
        sender=ANA,
    ),
    _in(
        "telegram-photo-caption-is-text",
        "message_photo.json",
        channel="telegram",
        text="la caja llegó rota",
        sender=ANA,
        provider_id="815300003",
    ),
    _in(
        "telegram-reply-to-question",
        "reply_to_question.json",
        given=("open_survey",),
        channel="telegram",
        text="porque tardó una semana",
        sender=ANA,
        provider_id="815300004",
    ),
    # --- a tapped score button ------------------------------------------------------------
    _in(
        "telegram-button-tap",
        "callback_query.json",
        given=("open_survey",),
        channel="telegram",
        sender=ANA,
        provider_id="815300006",
    ),
    _in("telegram-button-tap-wrong-secret", "callback_query.json", signing="invalid", status=403),
    _in("telegram-button-tap-missing-secret", "callback_query.json", signing="missing", status=403),
    _in(
        "telegram-button-tap-redelivered",
        "callback_query.json",
        given=("open_survey",),
        channel="telegram",
        sender=ANA,
        provider_id="815300006",
        duplicate=True,
    ),
    # --- onboarding by deep link ----------------------------------------------------------
    _in(
        "telegram-start-with-payload",
        "start_payload.json",
        channel="telegram",
        text="/start",
        sender=ANA,
        provider_id="815300007",
    ),
    _in(
        "telegram-start-without-payload",
        "start_plain.json",
        channel="telegram",
        text="/start",
        sender="5598765432",
        provider_id="815300008",
    ),
    _in("telegram-start-wrong-secret", "start_payload.json", signing="invalid", status=403),
    # --- stored, never a survey answer ----------------------------------------------------
    _in(
        "telegram-group-message",
        "group_message.json",
        channel="telegram",
        text="9",
        sender="7011223344",
        provider_id="815300009",
    ),
    _in(
        "telegram-blocked-by-user",
        "blocked.json",
        channel="telegram",
        sender=ANA,
        provider_id="815300013",
    ),
    # --- acknowledged and ignored (Telegram must not retry them) --------------------------
    _in("telegram-edited-message-ignored", "edited_message.json", given=("open_survey",)),
    _in("telegram-channel-post-ignored", "channel_post.json"),
    _in("telegram-poll-answer-ignored", "poll_answer.json"),
    _in("telegram-unknown-update-type-ignored", "unknown_type.json"),
    _in("telegram-ignored-wrong-secret", "channel_post.json", signing="invalid", status=403),
    # --- not an update at all -------------------------------------------------------------
    _in("telegram-not-an-update", "not_an_update.json", status=400),
]


def _path(method: str) -> str:
    return f"/bot{TOKEN}/{method}"


def _buttons(invitation: int) -> tuple[tuple[Button, ...], ...]:
    """The score keyboard as bot/buttons.py makes it: 0-5 and 6-10."""
    row = [Button(str(n), f"s:{invitation}:{n}:AbCdEfGhIj") for n in range(11)]
    return (tuple(row[:6]), tuple(row[6:]))


_KEYBOARD = {
    "inline_keyboard": [
        [{"text": str(n), "callback_data": f"s:17:{n}:AbCdEfGhIj"} for n in range(6)],
        [{"text": str(n), "callback_data": f"s:17:{n}:AbCdEfGhIj"} for n in range(6, 11)],
    ]
}
_QUESTION = "Del 0 al 10, ¿qué tan probable es que recomiende Acme a un amigo?"


def _out(label: str, message: Mapping[str, object], **kw: object) -> OutboundCase:
    return OutboundCase(label=label, channel="telegram", message=message, **kw)


OUTBOUND: list[OutboundCase] = [
    _out(
        "telegram-send-text",
        {"to": ANA, "text": "¡Gracias!"},
        expect_requests=(
            {
                "method": "POST",
                "path": _path("sendMessage"),
                "fields": {"chat_id": int(ANA), "text": "¡Gracias!"},
            },
        ),
        expect_provider_id=f"{ANA}:1001",
    ),
    _out(
        "telegram-send-keyboard-0-10-two-rows",
        {"to": ANA, "text": _QUESTION, "buttons": _buttons(17)},
        expect_requests=(
            {
                "path": _path("sendMessage"),
                "fields": {"chat_id": int(ANA), "reply_markup": _KEYBOARD},
            },
        ),
    ),
    _out(
        "telegram-send-reply-to-message",
        {"to": ANA, "text": "¿Por qué?", "reply_to": f"{ANA}:60"},
        expect_requests=(
            {
                "path": _path("sendMessage"),
                "fields": {
                    "reply_parameters": {"message_id": 60, "allow_sending_without_reply": True}
                },
            },
        ),
    ),
    _out(
        "telegram-tap-answers-callback-then-edits",
        {
            "to": ANA,
            "text": f"{_QUESTION}\n\nElegiste 3",
            "callback_id": "4382bfdwdsb323b2d9",
            "edit_of": f"{ANA}:60",
        },
        expect_requests=(
            {
                "path": _path("answerCallbackQuery"),
                "fields": {"callback_query_id": "4382bfdwdsb323b2d9"},
            },
            {"path": _path("editMessageText"), "fields": {"chat_id": int(ANA), "message_id": 60}},
        ),
    ),
    _out(
        "telegram-stale-tap-still-answers-callback",
        {"to": ANA, "text": "Esa encuesta ya cerró, ¡gracias!", "callback_id": "cb-old"},
        expect_requests=(
            {"path": _path("answerCallbackQuery"), "fields": {"callback_query_id": "cb-old"}},
            {"path": _path("sendMessage"), "fields": {"chat_id": int(ANA)}},
        ),
    ),
    _out(
        "telegram-callback-only-answer",
        {"to": ANA, "text": "", "callback_id": "cb-1"},
        expect_requests=({"path": _path("answerCallbackQuery")},),
        expect_provider_id="callback:cb-1",
    ),
    _out(
        "telegram-expired-callback-still-edits",
        {"to": ANA, "text": "Elegiste 3", "callback_id": "cb-old", "edit_of": f"{ANA}:60"},
        answers=(ProviderAnswer(400, QUERY_TOO_OLD), ProviderAnswer()),
        expect_requests=(
            {"path": _path("answerCallbackQuery")},
            {"path": _path("editMessageText")},
        ),
    ),
    _out(
        "telegram-edit-not-modified-is-success",
        {"to": ANA, "text": "Elegiste 3", "edit_of": f"{ANA}:60"},
        answers=(ProviderAnswer(400, NOT_MODIFIED),),
    ),
    _out(
        "telegram-group-chat",
        {"to": "-1001987654321", "text": "Nuevo detractor: 3"},
        expect_requests=({"path": _path("sendMessage"), "fields": {"chat_id": -1001987654321}},),
    ),
    # --- typed errors ---------------------------------------------------------------------
    _out(
        "telegram-blocked-by-user-unreachable",
        {"to": ANA, "text": "hola"},
        answers=(ProviderAnswer(403, BLOCKED),),
        expect="Unreachable",
        expect_retryable=False,
    ),
    _out(
        "telegram-user-deactivated-unreachable",
        {"to": ANA, "text": "hola"},
        answers=(ProviderAnswer(403, DEACTIVATED),),
        expect="Unreachable",
    ),
    _out(
        "telegram-chat-not-found-unreachable",
        {"to": "999", "text": "hola"},
        answers=(ProviderAnswer(400, CHAT_NOT_FOUND),),
        expect="Unreachable",
    ),
    _out(
        "telegram-flood-429-retry-after",
        {"to": ANA, "text": "hola"},
        answers=(ProviderAnswer(429, flood(17)),),
        expect="Throttled",
        expect_retryable=True,
        expect_retry_after=17.0,
    ),
    _out(
        "telegram-server-error-retryable",
        {"to": ANA, "text": "hola"},
        answers=(ProviderAnswer(500, SERVER_ERROR),),
        expect="SendFailed",
        expect_retryable=True,
    ),
    _out(
        "telegram-slow-server-times-out-retryable",
        {"to": ANA, "text": "hola"},
        answers=(ProviderAnswer(delay=1.5),),
        expect="SendFailed",
        expect_retryable=True,
    ),
    _out(
        "telegram-revoked-token-config",
        {"to": ANA, "text": "hola"},
        answers=(ProviderAnswer(401, UNAUTHORIZED),),
        expect="ChannelConfig",
    ),
    _out(
        "telegram-not-a-chat-id-unreachable",
        {"to": "+5215512345678", "text": "hola"},
        expect="Unreachable",
        expect_requests=(),
    ),
]

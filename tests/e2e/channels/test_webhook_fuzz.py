"""The standing webhook fuzz suite (issue 16): Hypothesis-generated, validly signed Twilio (SMS
and WhatsApp) and Telegram webhooks — random unicode, NUL, lone surrogates, huge, missing and
wrongly typed fields — against the real app on SQLite and PostgreSQL.

Promise: 0 × 5xx; a refusal is a 4xx with a JSON reason; every webhook answered 2xx that carries
a message is stored exactly once (rows counted by provider id), its redelivery included.
Derandomised (the same examples on every run, no example database), deadline off, bounded:
EXAMPLES per channel and database.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.storage.messages import clean_id
from tests.conftest import Clock
from tests.e2e.channels.webhooks import World, telegram_update, twilio_form, world

EXAMPLES = 150
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Text a form can carry (no lone surrogates: they cannot be URL-encoded), with NUL made likely.
_FORM_TEXT = st.one_of(
    st.text(st.characters(codec="utf-8"), max_size=40),
    st.text(st.sampled_from("\x00 9aé\u202e\U0001f600"), max_size=12),
    st.integers(60, 5_000).map(lambda n: "é" * n),
)
# JSON text also holds lone surrogates ("\ud800" escapes).
_JSON_TEXT = st.one_of(_FORM_TEXT, st.sampled_from(["\ud800", "9 \udfff", "\u0000"]))
_JSON = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**80), 2**80),
        st.floats(allow_nan=False),
        _JSON_TEXT,
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(_JSON_TEXT, inner, max_size=3)
    ),
    max_leaves=6,
)
_ABSENT = object()


class Tally:
    """What the suite tried and saw, asserted on and shown with `pytest -rP`."""

    def __init__(self, name: str) -> None:
        self.name, self.tried, self.server_errors, self.stored_wrong = name, 0, 0, 0
        self.refused, self.stored = 0, 0

    def __str__(self) -> str:
        return (
            f"{self.name}: {self.tried} webhooks (+ a redelivery each 2xx), "
            f"{self.server_errors} x 5xx, {self.refused} x 4xx, {self.stored} stored, "
            f"{self.stored_wrong} not stored exactly once"
        )


def _check(
    w: World,
    tally: Tally,
    post: Callable[[], tuple[int, bytes]],
    channel: str | None,
    provider_id: str,
) -> None:
    """POST, and POST again when accepted; `channel` None: a 2xx stores nothing (ignored)."""
    tally.tried += 1
    status, body = post()
    if status >= 500:
        tally.server_errors += 1
    assert status < 500, body
    if status >= 400:
        tally.refused += 1
        assert json.loads(body)["reason"], body  # a refusal names why
        return
    again = post()
    assert again == (status, body), (status, body, again)
    if channel is not None:
        count = w.stored(channel, clean_id(provider_id))
        tally.stored += 1
        if count != 1:
            tally.stored_wrong += 1
        assert count == 1, (channel, provider_id, count)


# --- Twilio -----------------------------------------------------------------------------------
_FROM = st.one_of(
    st.just("+5215512345678"),
    st.from_regex(r"\+[0-9]{1,90}", fullmatch=True),
    _FORM_TEXT.map(lambda t: "whatsapp:" + t),
    st.sampled_from(["messenger:1234567", "rcs:+15551234567", "WhatsApp:+15551234567"]),
    _FORM_TEXT,
)
_SID = st.one_of(st.from_regex(r"SM[0-9a-f]{32}", fullmatch=True), _FORM_TEXT)
_TWILIO_FIELDS: dict[str, st.SearchStrategy[str]] = {
    "MessageSid": _SID,
    "SmsMessageSid": _SID,
    "SmsSid": _SID,
    "From": _FROM,
    "Body": _FORM_TEXT,
    "ProfileName": _FORM_TEXT,
    "NumMedia": st.one_of(st.integers(-5, 10**30).map(str), _FORM_TEXT),
    "ButtonPayload": _FORM_TEXT,
    "OriginalRepliedMessageSid": _FORM_TEXT,
    "OptOutType": st.one_of(st.sampled_from(["STOP", "START", "HELP", "stop"]), _FORM_TEXT),
    "WaId": _FORM_TEXT,
}


@st.composite
def twilio_forms(draw: st.DrawFn) -> dict[str, str]:
    form = twilio_form(draw(st.sampled_from(["sms_text.form", "wa_text.form", "wa_button.form"])))
    for key, values in _TWILIO_FIELDS.items():
        choice = draw(st.one_of(st.just(None), st.just(_ABSENT), values))
        if choice is _ABSENT:
            form.pop(key, None)
        elif isinstance(choice, str):
            form[key] = choice
    return form


def test_signed_twilio_webhooks_never_5xx_and_are_stored_once(
    database_url: str, clock: Clock
) -> None:
    tally = Tally(f"twilio on {database_url.split(':')[0]}")
    with world(database_url, clock) as w:

        @FUZZ
        @given(twilio_forms())
        def one(form: dict[str, str]) -> None:
            sid = form.get("MessageSid") or form.get("SmsMessageSid") or form.get("SmsSid") or ""
            wa = form.get("From", "").startswith("whatsapp:")
            _check(w, tally, lambda: w.twilio(form), "whatsapp" if wa else "sms", sid)

        one()
    print(tally)
    assert tally.tried >= EXAMPLES // 2 and tally.server_errors == tally.stored_wrong == 0


# --- Telegram ---------------------------------------------------------------------------------
_PATHS = {
    "message_text.json": [
        ("text",),
        ("caption",),
        ("date",),
        ("message_id",),
        ("photo",),
        ("reply_to_message",),
        ("chat",),
        ("chat", "id"),
        ("chat", "type"),
        ("chat", "first_name"),
        ("from",),
        ("from", "id"),
        ("from", "first_name"),
        ("from", "last_name"),
        ("from", "language_code"),
    ],
    "group_message.json": [("text",), ("chat", "id"), ("from", "id"), ("from", "first_name")],
    "callback_query.json": [
        ("id",),
        ("data",),
        ("from",),
        ("from", "id"),
        ("from", "first_name"),
        ("message",),
        ("message", "chat", "id"),
        ("message", "message_id"),
    ],
    "blocked.json": [
        ("from",),
        ("from", "first_name"),
        ("chat", "id"),
        ("date",),
        ("new_chat_member",),
        ("new_chat_member", "status"),
        ("old_chat_member",),
    ],
}


def _set(obj: Any, path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        if not isinstance(obj, dict) or not isinstance(obj.get(key), dict):
            return
        obj = obj[key]
    if not isinstance(obj, dict):
        return
    if value is _ABSENT:
        obj.pop(path[-1], None)
    else:
        obj[path[-1]] = value


@st.composite
def telegram_updates(draw: st.DrawFn) -> dict[str, Any]:
    name = draw(st.sampled_from(sorted(_PATHS)))
    update = copy.deepcopy(telegram_update(name))
    kind = next(k for k in update if k != "update_id")
    update["update_id"] = draw(st.integers(-(2**63), 2**80))
    for path in draw(st.lists(st.sampled_from(_PATHS[name]), max_size=4)):
        value = draw(st.one_of(st.just(_ABSENT), _JSON, st.integers(10**20, 10**45)))
        _set(update[kind], path, value)
    return update


def _handled(update: dict[str, Any]) -> bool:
    """Whether npsbot keeps this update (a chat-member change matters in private chats only)."""
    member = update.get("my_chat_member")
    if member is None:
        return True
    chat = member.get("chat")
    return isinstance(chat, dict) and chat.get("type") == "private"


def test_signed_telegram_webhooks_never_5xx_and_are_stored_once(
    database_url: str, clock: Clock
) -> None:
    tally = Tally(f"telegram on {database_url.split(':')[0]}")
    with world(database_url, clock) as w:

        @FUZZ
        @given(telegram_updates())
        def one(update: dict[str, Any]) -> None:
            channel = "telegram" if _handled(update) else None
            _check(w, tally, lambda: w.telegram(update), channel, str(update["update_id"]))

        one()
    print(tally)
    assert tally.tried >= EXAMPLES // 2 and tally.server_errors == tally.stored_wrong == 0

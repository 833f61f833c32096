"""Telegram channel behaviour the shared rows do not cover, through the real python-telegram-bot
against the loopback fake Bot API (which checks every call against the Bot API description)."""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from telegram import error as tg

from bot.config import Settings, settings_from
from bot.logs import redaction
from channels.base import Button, Outbound, WebRequest
from channels.errors import BadPayload, ChannelConfig, SendFailed, Unreachable
from channels.telegram import TelegramChannel, build
from channels.telegram.admin import SECRET_HEADER, webhook_secret
from channels.telegram.channel import START_PAYLOAD, callback_data_ok, deep_link, message_ref
from channels.telegram.client import retry_after
from tests.e2e.channels.rows_telegram import SECRET, settings
from tests.fakes.base import Answer
from tests.fakes.bot_api import BLOCKED, SPEC_FILE, TOKEN, FakeBotApi

pytestmark = pytest.mark.skipif(
    not SPEC_FILE.is_file(), reason=f"Telegram Bot API description not found at {SPEC_FILE}"
)
PAYLOADS = Path(__file__).resolve().parents[2] / "payloads" / "telegram"


@pytest.fixture
def fake() -> Iterator[FakeBotApi]:
    with FakeBotApi() as f:
        yield f
    assert f.spec_problems == []


@pytest.fixture
def conf(fake: FakeBotApi) -> Settings:
    return settings_from(settings(fake.url))


@pytest.fixture
def channel(conf: Settings) -> Iterator[TelegramChannel]:
    ch = build(conf)
    assert ch is not None
    yield ch
    ch.close()


def webhook(body: bytes, secret: str | None = SECRET) -> WebRequest:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[SECRET_HEADER] = secret
    return WebRequest("POST", "https://nps.example.com/webhooks/telegram", headers, {}, body)


def payload(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


# --- configuration ----------------------------------------------------------------------------
def test_no_token_means_no_telegram_channel() -> None:
    assert build(settings_from({})) is None


def test_channel_identity(channel: TelegramChannel) -> None:
    assert (channel.name, channel.route) == ("telegram", "telegram")
    assert channel.supports_buttons and not channel.inline_replies


# --- the secret token -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("label", "secret", "accepted"),
    [
        ("the configured secret", SECRET, True),
        ("a wrong secret of the same length", SECRET[:-1] + "X", False),
        ("a prefix of the secret", SECRET[:5], False),
        ("the secret with a suffix", SECRET + "x", False),
        ("an empty header", "", False),
        ("no header at all", None, False),
    ],
)
def test_webhook_secret_is_compared_exactly(
    channel: TelegramChannel, label: str, secret: str | None, accepted: bool
) -> None:
    assert channel.verify(webhook(payload("message_text.json"), secret)) is accepted, label


def test_header_name_is_case_insensitive(channel: TelegramChannel) -> None:
    req = WebRequest("POST", "/", {"x-telegram-bot-api-secret-token": SECRET}, {}, b"{}")
    assert channel.verify(req)


def test_without_configured_secret_one_is_derived_from_the_token() -> None:
    """Webhooks are never unchecked: set-webhook registers the derived secret, verify wants it."""
    conf = settings_from({"TELEGRAM_BOT_TOKEN": TOKEN})
    derived = webhook_secret(conf)
    assert derived == webhook_secret(settings_from({"TELEGRAM_BOT_TOKEN": TOKEN}))
    assert TOKEN not in derived and len(derived) == 64
    ch = build(conf)
    assert ch is not None
    assert ch.verify(webhook(b"{}", derived))
    assert not ch.verify(webhook(b"{}", None))


# --- parsing ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("label", "body"),
    [
        ("not JSON", b"update_id=1"),
        ("a JSON array", b"[1, 2]"),
        ("no update_id", b'{"message": {}}'),
        ("update_id not a number", b'{"update_id": "7"}'),
        ("a Bot API response, not an update", payload("not_an_update.json")),
        ("a message without chat", b'{"update_id": 7, "message": {"message_id": 1}}'),
    ],
)
def test_bodies_telegram_never_sends_are_bad_payloads(
    channel: TelegramChannel, label: str, body: bytes
) -> None:
    with pytest.raises(BadPayload):
        channel.parse(webhook(body))


def test_button_tap_carries_callback_and_the_question_it_answers(
    channel: TelegramChannel,
) -> None:
    (msg,) = channel.parse(webhook(payload("callback_query.json"))).messages
    assert msg.button == "s:17:3:AAAAAAAAAA"
    assert msg.callback_id == "4382bfdwdsb323b2d9"
    assert msg.reply_to == "5512345678:60"  # the "<chat>:<message>" id an edit needs
    assert (msg.sender, msg.chat_type, msg.language_hint) == ("5512345678", "private", "es")


def test_start_payload_is_lifted_out_of_the_text(channel: TelegramChannel) -> None:
    (msg,) = channel.parse(webhook(payload("start_payload.json"))).messages
    assert msg.start_payload == "q3Zt8mVb1xYk_R-2pLwN7eHsJ0aUcDfG4iOoT6yQ9rE"
    assert msg.text == "/start"  # the single-use secret is not stored as text


@pytest.mark.parametrize(
    ("label", "text", "start"),
    [
        ("plain /start", "/start", None),
        ("addressed to the bot", "/start@acme_nps_bot abc-DEF_123", "abc-DEF_123"),
        ("characters outside A-Za-z0-9_-", "/start abc$def", None),
        ("65 characters", "/start " + "a" * 65, None),
        ("64 characters", "/start " + "a" * 64, "a" * 64),
    ],
)
def test_start_payload_rules(
    channel: TelegramChannel, label: str, text: str, start: str | None
) -> None:
    data = json.loads(payload("start_plain.json"))
    data["message"]["text"] = text
    (msg,) = channel.parse(webhook(json.dumps(data).encode())).messages
    assert msg.start_payload == start, label


def test_group_messages_are_marked_group(channel: TelegramChannel) -> None:
    (msg,) = channel.parse(webhook(payload("group_message.json"))).messages
    assert msg.chat_type == "group"
    assert (msg.sender, msg.chat_id) == ("7011223344", "-1001987654321")


def test_blocking_the_bot_is_an_opt_out(channel: TelegramChannel) -> None:
    (msg,) = channel.parse(webhook(payload("blocked.json"))).messages
    assert msg.opt_out == "stop"


def test_the_webhook_answer_is_an_empty_json_object(channel: TelegramChannel) -> None:
    res = channel.respond(webhook(b"{}"), [Outbound("telegram", "42", "ignored")])
    assert (res.status, res.body, res.content_type) == (200, b"{}", "application/json")


# --- callback_data ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("label", "data", "ok"),
    [
        ("64 ASCII bytes", "x" * 64, True),
        ("65 ASCII bytes", "x" * 65, False),
        ("32 two-byte characters = 64 bytes", "é" * 32, True),
        ("33 two-byte characters = 66 bytes", "é" * 33, False),
        ("empty", "", False),
        ("the lead's score format", "s:9223372036854775807:10:AbCdEfGhIj", True),
    ],
)
def test_callback_data_is_one_to_64_bytes(label: str, data: str, ok: bool) -> None:
    assert callback_data_ok(data) is ok, label


def test_oversized_callback_data_is_refused_before_any_call(
    fake: FakeBotApi, channel: TelegramChannel
) -> None:
    msg = Outbound("telegram", "42", "?", buttons=((Button("9", "x" * 65),),))
    with pytest.raises(ChannelConfig):
        channel.send(msg)
    assert fake.requests == []


# --- errors -----------------------------------------------------------------------------------
def test_retry_after_reads_seconds_from_either_form() -> None:
    assert retry_after(tg.RetryAfter(17)) == 17.0
    assert retry_after(tg.RetryAfter(timedelta(seconds=3))) == 3.0


def test_slow_server_times_out_within_the_configured_timeout(
    fake: FakeBotApi, channel: TelegramChannel
) -> None:
    fake.queue(Answer(delay=3.0))
    start = time.monotonic()
    with pytest.raises(SendFailed) as info:
        channel.send(Outbound("telegram", "42", "hola"))
    assert info.value.retryable
    assert time.monotonic() - start < 2.5  # HTTP_TIMEOUT=1


def test_a_failed_answer_does_not_stop_later_sends(
    fake: FakeBotApi, channel: TelegramChannel
) -> None:
    fake.queue(Answer(403, BLOCKED))
    with pytest.raises(Unreachable):
        channel.send(Outbound("telegram", "42", "hola"))
    assert channel.send(Outbound("telegram", "42", "hola")).provider_id.startswith("42:")


# --- the long-lived event loop ----------------------------------------------------------------
def test_many_sends_from_many_threads_share_the_channels_one_loop(
    fake: FakeBotApi, channel: TelegramChannel
) -> None:
    """No asyncio.run per message: sends from any thread run on the channel's one loop, never
    'Event loop is closed' from an httpx client bound to a finished loop."""
    before = {t for t in threading.enumerate() if t.name == "telegram-loop"}
    failures: list[BaseException] = []
    ids: list[str] = []

    def work(n: int) -> None:
        for i in range(10):
            try:
                ids.append(channel.send(Outbound("telegram", str(100 + n), f"m{i}")).provider_id)
            except BaseException as exc:
                failures.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert len(set(ids)) == 80
    started = {t for t in threading.enumerate() if t.name == "telegram-loop"} - before
    assert started == {channel.runner.thread}


def test_closing_the_channel_stops_its_loop(conf: Settings) -> None:
    ch = build(conf)
    assert ch is not None
    ch.send(Outbound("telegram", "42", "hola"))
    thread = ch.runner.thread
    assert thread is not None and thread.is_alive()
    ch.close()
    assert not thread.is_alive()


def test_a_new_channel_after_close_still_sends(conf: Settings) -> None:
    for _ in range(3):
        ch = build(conf)
        assert ch is not None
        assert ch.send(Outbound("telegram", "42", "hola")).provider_id.startswith("42:")
        ch.close()


# --- the token never reaches the logs ---------------------------------------------------------
def test_token_is_redacted_from_logs(
    fake: FakeBotApi, conf: Settings, channel: TelegramChannel, caplog: pytest.LogCaptureFixture
) -> None:
    """The redaction `setup_logging` puts on the process's log handler masks the Bot API URLs
    httpx logs, and the channel's errors never carry the token."""
    caplog.set_level(logging.DEBUG)
    caplog.handler.addFilter(redaction(conf))
    fake.queue(Answer(), Answer(403, BLOCKED))
    channel.send(Outbound("telegram", "42", "hola"))
    with pytest.raises(Unreachable) as info:
        channel.send(Outbound("telegram", "42", "hola"))
    assert "HTTP Request: POST" in caplog.text  # httpx did log the call
    assert "/bot***/sendMessage" in caplog.text
    assert TOKEN not in caplog.text
    assert TOKEN.split(":")[1] not in caplog.text
    assert TOKEN not in str(info.value)


# --- set-webhook, getMe, deep links -----------------------------------------------------------
def test_set_webhook_registers_secret_and_update_types(
    fake: FakeBotApi, channel: TelegramChannel
) -> None:
    url = "https://nps.example.com/webhooks/telegram"
    assert channel.set_webhook(url, drop_pending_updates=True)
    (req,) = fake.requests
    assert req.path == f"/bot{TOKEN}/setWebhook"
    assert req.form == {
        "url": url,
        "secret_token": SECRET,
        "allowed_updates": ["message", "callback_query", "my_chat_member"],
        "drop_pending_updates": True,
    }


def test_delete_webhook(fake: FakeBotApi, channel: TelegramChannel) -> None:
    assert channel.delete_webhook()
    assert [r.path for r in fake.requests] == [f"/bot{TOKEN}/deleteWebhook"]


def test_the_bot_username_for_deep_links_is_asked_once(fake: FakeBotApi, conf: Settings) -> None:
    channel = TelegramChannel(conf)
    link = "https://t.me/acme_nps_bot?start=abc"
    assert channel.deep_link("abc") == link
    assert channel.deep_link("abc") == link
    channel.close()
    assert [r.path for r in fake.requests] == [f"/bot{TOKEN}/getMe"]


def test_deep_links() -> None:
    payloads = {secrets.token_urlsafe(32) for _ in range(100)}
    assert len(payloads) == 100
    assert all(START_PAYLOAD.match(p) for p in payloads)
    p = payloads.pop()
    assert deep_link("@acme_nps_bot", p) == f"https://t.me/acme_nps_bot?start={p}"
    with pytest.raises(ValueError):
        deep_link("acme_nps_bot", "has space")
    with pytest.raises(ValueError):
        deep_link("acme_nps_bot", "a" * 65)


# --- long polling feeds the webhook's code path -----------------------------------------------
def test_polling_hands_each_update_to_the_webhook_path(
    fake: FakeBotApi, channel: TelegramChannel
) -> None:
    names = ["message_text.json", "callback_query.json", "start_payload.json"]
    fake.push_update(*(json.loads(payload(n)) for n in names))
    seen: list[WebRequest] = []
    stop = threading.Event()

    def on_request(req: WebRequest) -> None:
        seen.append(req)
        if len(seen) == len(names):
            stop.set()

    runner = threading.Thread(
        target=channel.poll, args=(on_request,), kwargs={"stop": stop, "timeout": 1}
    )
    runner.start()
    runner.join(timeout=10)
    assert not runner.is_alive()
    for req, name in zip(seen, names, strict=True):
        # The same verify + parse as a webhook POST of the payload file.
        assert channel.verify(req)
        assert channel.parse(req) == channel.parse(webhook(payload(name)))
    paths = [r.path.rsplit("/", 1)[1] for r in fake.requests]
    assert paths[:2] == ["deleteWebhook", "getUpdates"]  # a set webhook would make polling 409


def test_polling_confirms_handled_updates_and_stops_promptly(
    fake: FakeBotApi, channel: TelegramChannel
) -> None:
    fake.push_update(json.loads(payload("message_text.json")))
    stop = threading.Event()
    seen: list[WebRequest] = []
    runner = threading.Thread(
        target=channel.poll, args=(seen.append,), kwargs={"stop": stop, "timeout": 30}
    )
    runner.start()
    deadline = time.monotonic() + 5
    while (
        time.monotonic() < deadline
        and len([r for r in fake.requests if r.path.endswith("/getUpdates")]) < 2
    ):
        time.sleep(0.05)
    stop.set()
    start = time.monotonic()
    runner.join(timeout=5)
    assert not runner.is_alive() and time.monotonic() - start < 1.5  # a 30 s poll is cancelled
    assert len(seen) == 1
    polls = [r for r in fake.requests if r.path.endswith("/getUpdates")]
    assert polls[1].form.get("offset") == 815300002  # update 815300001 is confirmed


def test_polling_retries_an_update_whose_handling_failed(
    fake: FakeBotApi, channel: TelegramChannel
) -> None:
    fake.push_update(json.loads(payload("message_text.json")))
    stop = threading.Event()
    calls: list[WebRequest] = []

    def flaky(req: WebRequest) -> None:
        calls.append(req)
        if len(calls) == 1:
            raise RuntimeError("database is down")
        stop.set()

    channel.poll(flaky, stop=stop, timeout=1)
    assert len(calls) == 2 and calls[0].body == calls[1].body


def test_each_edit_gets_its_own_receipt_id(channel: TelegramChannel) -> None:
    """Provider ids are unique per channel in storage; an edit is not a new Telegram message."""
    one = channel.send(Outbound("telegram", "42", "Elegiste 3", edit_of="42:1001")).provider_id
    two = channel.send(Outbound("telegram", "42", "Elegiste 4", edit_of="42:1001")).provider_id
    assert one != two
    assert one.startswith("42:1001#edit-") and two.startswith("42:1001#edit-")
    assert message_ref(one, 42) == (42, 1001)

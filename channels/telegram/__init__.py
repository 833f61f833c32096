"""Telegram through python-telegram-bot 22: `Update.de_json` in, `telegram.Bot` out.

Async inside sync: python-telegram-bot is asyncio-only while Flask and the worker are threads.
Every call runs on ONE long-lived event loop in a daemon thread (`_Loop`), reached with
`asyncio.run_coroutine_threadsafe`; each channel owns one `Bot` whose httpx clients live on that
loop. No `asyncio.run` per message: an httpx client bound to a closed loop fails with "Event loop
is closed". After a fork (gunicorn) the child starts its own loop and bots on first use.

Addresses: `Inbound.sender` / `Outbound.to` are chat ids as strings. Our provider ids for
messages are "<chat_id>:<message_id>" (a message id is only unique within its chat); an edit's
receipt is "<chat_id>:<message_id>#edit-<random>", a callback answered alone "callback:<id>";
the webhook's provider id is the `update_id`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import threading
import weakref
from collections.abc import Callable, Coroutine, Iterable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal, TypeVar

# PTB 22 deprecates int durations (RetryAfter.retry_after, …) and warns on every access, even
# inside its own RetryAfter constructor, unless the process opts in to timedelta values. We
# opt in (the documented migration path) before importing it; our code reads both forms.
os.environ.setdefault("PTB_TIMEDELTA", "true")

from telegram import (
    Bot,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyParameters,
    Update,
)
from telegram import error as tg
from telegram.request import HTTPXRequest

from channels.base import (
    Inbound,
    OptOutKind,
    Outbound,
    Parsed,
    Sent,
    WebRequest,
    WebResponse,
)
from channels.errors import (
    BadPayload,
    ChannelConfig,
    SendError,
    SendFailed,
    Throttled,
    Unreachable,
)

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
DEFAULT_API_URL = "https://api.telegram.org/bot"
# The update types the conversation uses; everything else is acknowledged and dropped.
ALLOWED_UPDATES = ("message", "callback_query", "my_chat_member")  # what we ask Telegram for
# https://core.telegram.org/bots/api#inlinekeyboardbutton: callback_data is 1-64 bytes.
CALLBACK_MAX = 64
# https://core.telegram.org/bots/features#deep-linking: up to 64 characters of A-Za-z0-9_-.
START_PAYLOAD = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# Update types `parse` turns into messages; the rest are acknowledged and dropped.
_HANDLED = ("message", "callback_query", "my_chat_member")
_START = re.compile(r"^/start(?:@\w+)?(?:\s+(\S+))?\s*$")
_MEDIA = (
    "photo",
    "video",
    "video_note",
    "voice",
    "audio",
    "document",
    "animation",
    "sticker",
    "location",
    "contact",
)


# --- the token never reaches the logs -------------------------------------------------------
class _Redact(logging.Filter):
    """httpx logs request URLs at INFO, and Bot API URLs carry the token: mask it."""

    def __init__(self) -> None:
        super().__init__("npsbot-telegram-redact")
        self.tokens: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.tokens:
            text = record.getMessage()
            clean = redact(text, self.tokens)
            if clean != text:
                record.msg, record.args = clean, None
        return True


_REDACT = _Redact()
# Filters on a logger do not apply to its children's records, so name each one that logs URLs.
_LOGGERS = ("httpx", "httpcore", "telegram.Bot", "telegram.HTTPXRequest", "telegram.BaseRequest")


def _protect(token: str) -> None:
    _REDACT.tokens.add(token)
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if _REDACT not in logger.filters:
            logger.addFilter(_REDACT)


def redact(text: str, tokens: Iterable[str]) -> str:
    for token in tokens:
        text = text.replace(token, "<token>")
    return text


# --- one event loop per process -------------------------------------------------------------
class _Loop:
    """A daemon thread running an asyncio loop forever; sync code submits coroutines to it."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="telegram-loop", daemon=True
        )
        self.thread.start()

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)


_loop: _Loop | None = None
_loop_lock = threading.Lock()


def _shared_loop() -> _Loop:
    global _loop
    with _loop_lock:
        # A forked child inherits the object but not the thread: start its own loop.
        if _loop is None or _loop.pid != os.getpid() or not _loop.thread.is_alive():
            _loop = _Loop()
        return _loop


def _run(coro: Coroutine[Any, Any, T], limit: float) -> T:
    """Run on the shared loop and wait; `limit` only guards against a hung loop."""
    future = _shared_loop().submit(coro)
    try:
        return future.result(timeout=limit)
    except FutureTimeout:
        future.cancel()
        raise tg.TimedOut("no answer from the Bot API in time") from None


# --- settings -------------------------------------------------------------------------------
def api_url(settings: Settings) -> str:
    """PTB's `base_url`: the token is appended (`<url><token>/<method>`) unless the URL holds
    `{token}`. TELEGRAM_API_URL is given like the default, "https://api.telegram.org/bot"."""
    return settings.telegram_api_url or DEFAULT_API_URL


def webhook_secret(settings: Settings) -> str:
    """TELEGRAM_WEBHOOK_SECRET, or one derived from the token so webhooks are never unchecked.

    Telegram allows 1-256 characters of A-Za-z0-9_- (hex qualifies)."""
    if settings.telegram_webhook_secret:
        return settings.telegram_webhook_secret
    token = settings.telegram_bot_token or ""
    return hmac.new(token.encode(), b"npsbot-telegram-webhook", hashlib.sha256).hexdigest()


def webhook_url(settings: Settings) -> str | None:
    if not settings.public_base_url:
        return None
    return settings.public_base_url.rstrip("/") + "/webhooks/telegram"


def _requests(timeout: float, poll_timeout: float = 0) -> tuple[HTTPXRequest, HTTPXRequest]:
    """(normal calls, getUpdates): separate pools so a long poll never blocks a send."""
    normal = HTTPXRequest(
        connection_pool_size=32,
        read_timeout=timeout,
        write_timeout=timeout,
        connect_timeout=timeout,
        pool_timeout=timeout,
    )
    # PTB adds the long-polling `timeout` to this read timeout itself.
    updates = HTTPXRequest(
        connection_pool_size=1,
        read_timeout=timeout,
        write_timeout=timeout,
        connect_timeout=timeout,
        pool_timeout=timeout,
    )
    return normal, updates


def _new_bot(settings: Settings) -> Bot:
    token = settings.telegram_bot_token
    if not token:
        raise ChannelConfig("TELEGRAM_BOT_TOKEN is not set")
    _protect(token)
    normal, updates = _requests(settings.http_timeout)
    # No `bot.initialize()`: it calls getMe; the request objects are ready once built.
    return Bot(token, base_url=api_url(settings), request=normal, get_updates_request=updates)


async def _close(bot: Bot) -> None:
    await bot.request.shutdown()
    await _updates_request(bot).shutdown()


def _updates_request(bot: Bot) -> Any:
    # PTB keeps (get_updates_request, request); only `request` has a public accessor.
    return bot._request[0]


# --- the channel ----------------------------------------------------------------------------
class TelegramChannel:
    name = "telegram"
    route = "telegram"
    supports_buttons = True
    inline_replies = False

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.secret = webhook_secret(settings).encode()
        self.limit = settings.http_timeout * 3 + 5
        self._bot: Bot | None = None
        self._pid = 0
        self._lock = threading.Lock()
        self._finalizer: weakref.finalize[Any, TelegramChannel] | None = None
        self._username: str | None = None  # the bot's @username, from getMe

    @property
    def bot(self) -> Bot:
        with self._lock:
            # A Bot's httpx clients belong to the loop of the process that made them.
            if self._bot is None or self._pid != os.getpid():
                self._bot, self._pid = _new_bot(self.settings), os.getpid()
                if self._finalizer is not None:
                    self._finalizer.detach()
                self._finalizer = weakref.finalize(self, _release, self._bot)
            return self._bot

    def close(self) -> None:
        """Close the Bot's HTTP connections (app shutdown, tests)."""
        if self._finalizer is not None:
            self._finalizer()
        self._bot = None

    # --- inbound ------------------------------------------------------------------------
    def verify(self, request: WebRequest) -> bool:
        given = request.header(SECRET_HEADER)
        if given is None:
            return False
        # Constant time: the secret is the only thing authenticating Telegram's requests.
        return hmac.compare_digest(given.encode(), self.secret)

    def parse(self, request: WebRequest) -> Parsed:
        data = _json(request.body)
        kind = next((k for k in _HANDLED if k in data), None)
        if kind is None:
            # edited_message, channel_post, polls, unknown future types: acknowledged, ignored
            # without parsing (PTB rejects shapes it does not know). An edit never re-answers a
            # question already moved past.
            return Parsed()
        try:
            update = Update.de_json({"update_id": data["update_id"], kind: data[kind]}, None)
        except (TypeError, KeyError, ValueError, AttributeError) as exc:
            raise BadPayload(f"malformed Telegram {kind}: {exc}") from exc
        uid = str(update.update_id)
        msg = update.message
        if msg is not None:
            return Parsed(messages=(_message(uid, msg, data["message"]),))
        if update.callback_query is not None:
            return Parsed(messages=(_callback(uid, update.callback_query),))
        member = update.my_chat_member
        if member is not None and member.chat.type == "private":
            # Blocking the bot shows up as our member status becoming "kicked".
            # https://core.telegram.org/bots/api#chatmemberupdated
            status = member.new_chat_member.status
            kind = OptOutKind.STOP if status == "kicked" else OptOutKind.START
            user = member.from_user
            return Parsed(
                messages=(
                    Inbound(
                        channel=self.name,
                        provider_id=uid,
                        sender=str(member.chat.id),
                        received_at=member.date,
                        sender_name=user.full_name,
                        opt_out=kind,
                        chat_id=str(member.chat.id),
                        language_hint=user.language_code,
                    ),
                )
            )
        return Parsed()  # my_chat_member of a group: the staff side has no use for it yet

    def respond(self, request: WebRequest, replies: Sequence[Outbound]) -> WebResponse:
        # Replies go through the outbox (Bot API calls), never in the webhook answer.
        return WebResponse(200, b"{}", "application/json")

    # --- outbound -----------------------------------------------------------------------
    def send(self, msg: Outbound) -> Sent:
        markup = keyboard(msg)  # validates callback_data before any call
        chat = chat_id(msg.to)
        return self._call(self._send(msg, chat, markup))

    async def _send(self, msg: Outbound, chat: int, markup: InlineKeyboardMarkup | None) -> Sent:
        bot = self.bot
        if msg.callback_id:
            try:
                # Always answered: the client shows a spinner until we do.
                await bot.answer_callback_query(msg.callback_id)
            except tg.BadRequest as exc:
                # "query is too old": the edit or reply below still matters.
                log.info("telegram: callback %s not answered: %s", msg.callback_id, exc)
            if not msg.text:
                return Sent(provider_id=f"callback:{msg.callback_id}")
        if msg.edit_of:
            where = message_ref(msg.edit_of, chat)
            try:
                await bot.edit_message_text(
                    msg.text, chat_id=where[0], message_id=where[1], reply_markup=markup
                )
                return Sent(provider_id=edit_id(*where))
            except tg.BadRequest as exc:
                # A retried edit finds the text already there: that is success.
                if "not modified" in str(exc).lower():
                    return Sent(provider_id=edit_id(*where))
                # Too old or deleted: the person still gets the text as a new message.
                log.info("telegram: edit of %s failed (%s); sending instead", msg.edit_of, exc)
        reply = None
        if msg.reply_to:
            ref = message_ref(msg.reply_to, chat)
            reply = ReplyParameters(
                ref[1], chat_id=None if ref[0] == chat else ref[0], allow_sending_without_reply=True
            )
        sent = await bot.send_message(chat, msg.text, reply_markup=markup, reply_parameters=reply)
        return Sent(provider_id=f"{sent.chat_id}:{sent.message_id}")

    def deep_link(self, payload: str) -> str:
        """The link that opens a chat with the bot and sends `/start <payload>` (a bot cannot
        write first). Asks getMe once per channel: call it outside any database transaction."""
        if self._username is None:
            me = self._call(self.bot.get_me())
            if not me.username:
                raise ChannelConfig("getMe returned no username: is this a bot token?")
            self._username = me.username
        return deep_link(self._username, payload)

    def chat_member_status(self, chat: str, user: str) -> str:
        """A user's status in a chat (getChatMember): creator, administrator, member, left…

        A restricted user who is still in the chat counts as a member."""
        member = self._call(self.bot.get_chat_member(int(chat), int(user)))
        if member.status == "restricted":
            return "member" if getattr(member, "is_member", False) else "left"
        return str(member.status)

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        try:
            return _run(coro, self.limit)
        except tg.TelegramError as exc:
            raise typed(exc, self.settings.telegram_bot_token) from exc


def _release(bot: Bot) -> None:
    loop = _loop
    if loop is None or loop.pid != os.getpid() or not loop.thread.is_alive():
        return
    future = loop.submit(_close(bot))
    # Waiting briefly keeps sockets from outliving the channel (ResourceWarnings in tests).
    if threading.current_thread() is not loop.thread:
        try:
            future.result(timeout=2)
        except Exception:  # closing is best effort
            log.debug("telegram: closing a bot failed", exc_info=True)


def build(settings: Settings) -> TelegramChannel | None:
    if not settings.telegram_bot_token:
        return None
    return TelegramChannel(settings)


# --- parsing helpers ------------------------------------------------------------------------
def _json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadPayload("Telegram updates are JSON") from exc
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        raise BadPayload("not a Telegram Update: no integer update_id")
    return data


def _chat_type(kind: str) -> Literal["private", "group"]:
    # "group", "supergroup" and "channel" never enter a customer survey.
    return "private" if kind == "private" else "group"


def _message(uid: str, msg: Message, raw: dict[str, Any]) -> Inbound:
    chat = msg.chat
    user = msg.from_user
    text = msg.text or msg.caption or ""
    payload = None
    start = _START.match(text) if msg.text else None
    if start:
        arg = start.group(1)
        if arg and START_PAYLOAD.match(arg):
            payload = arg
        # The payload is a single-use secret: keep it out of the stored message text.
        text = "/start"
    reply = msg.reply_to_message
    return Inbound(
        channel="telegram",
        provider_id=uid,
        # In a group the sender is the person (their user id is their private chat id).
        sender=str(user.id if user and chat.type != "private" else chat.id),
        text=text,
        received_at=msg.date,
        sender_name=user.full_name if user else chat.effective_name,
        media_count=sum(1 for key in _MEDIA if key in raw),
        reply_to=f"{chat.id}:{reply.message_id}" if reply else None,
        start_payload=payload,
        chat_type=_chat_type(chat.type),
        chat_id=str(chat.id),
        language_hint=user.language_code if user else None,
    )


def _callback(uid: str, query: CallbackQuery) -> Inbound:
    user = query.from_user
    where = query.message
    chat = where.chat if where is not None else None
    return Inbound(
        channel="telegram",
        provider_id=uid,
        sender=str(user.id),
        sender_name=user.full_name,
        button=query.data,
        callback_id=query.id,
        reply_to=f"{chat.id}:{where.message_id}" if chat is not None and where else None,
        chat_type=_chat_type(chat.type) if chat is not None else "private",
        chat_id=str(chat.id) if chat is not None else None,
        language_hint=user.language_code,
    )


# --- sending helpers ------------------------------------------------------------------------
def callback_data_ok(data: str) -> bool:
    """Telegram accepts callback_data of 1-64 bytes (UTF-8), not characters."""
    return 1 <= len(data.encode()) <= CALLBACK_MAX


def keyboard(msg: Outbound) -> InlineKeyboardMarkup | None:
    if not msg.buttons:
        return None
    for row in msg.buttons:
        for b in row:
            if not callback_data_ok(b.data):
                raise ChannelConfig(
                    f"callback_data must be 1-{CALLBACK_MAX} bytes, got "
                    f"{len(b.data.encode())} for button {b.label!r}",
                    code="callback_data",
                )
    rows = [
        [InlineKeyboardButton(b.label, callback_data=b.data) for b in row]
        for row in msg.buttons
        if row
    ]
    return InlineKeyboardMarkup(rows)


def chat_id(to: str) -> int:
    """Chat ids are integers (negative for groups); anything else cannot be a Telegram chat."""
    if not re.fullmatch(r"-?\d{1,20}", to.strip()):
        raise Unreachable(f"not a Telegram chat id: {to!r}", code="chat_id")
    return int(to)


def edit_id(chat: int, message: int) -> str:
    """An edit sends no new message, but its record needs an id of its own (provider ids are
    unique per channel): "<chat_id>:<message_id>#edit-<random>", which `message_ref` reads back
    as the edited message."""
    return f"{chat}:{message}#edit-{secrets.token_hex(4)}"


def message_ref(ref: str, chat: int) -> tuple[int, int]:
    """Our message ids are "<chat_id>:<message_id>"; a bare message id means `chat`."""
    head, sep, tail = ref.partition("#")[0].rpartition(":")
    try:
        return (int(head), int(tail)) if sep else (chat, int(ref))
    except ValueError:
        raise ChannelConfig(f"not a Telegram message id: {ref!r}", code="message_id") from None


def _seconds(value: int | float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def retry_after(exc: tg.RetryAfter) -> float:
    """Seconds to wait: a timedelta with PTB_TIMEDELTA opted in, an int otherwise."""
    return _seconds(exc.retry_after)


def typed(exc: tg.TelegramError, token: str | None = None) -> SendError:
    """A python-telegram-bot error as the dispatcher's typed error."""
    text = redact(str(exc), [token] if token else [])
    low = text.lower()
    if isinstance(exc, tg.RetryAfter):
        # https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this
        return Throttled(text, code=429, retry_after=retry_after(exc))
    if isinstance(exc, tg.Forbidden):
        # 403 "bot was blocked by the user", "user is deactivated", "bot can't initiate
        # conversation with a user", "bot was kicked": not reachable here, try the next channel.
        # https://core.telegram.org/bots/api#making-requests
        return Unreachable(text, code=403)
    if isinstance(exc, tg.InvalidToken):
        # 401/404: the token was revoked or mistyped. https://core.telegram.org/bots/api#authorizing-your-bot
        return ChannelConfig("the Bot API rejected TELEGRAM_BOT_TOKEN", code=401)
    if isinstance(exc, tg.ChatMigrated):
        # A group became a supergroup with a new id. https://core.telegram.org/bots/api#responseparameters
        return ChannelConfig(f"chat migrated to {exc.new_chat_id}", code="migrated")
    if isinstance(exc, tg.Conflict):
        # 409: getUpdates while a webhook is set, or two pollers. https://core.telegram.org/bots/api#getupdates
        return ChannelConfig(text, code=409)
    if isinstance(exc, tg.BadRequest):
        # 400 "chat not found" / "user not found": the chat never started the bot or is gone.
        if "chat not found" in low or "user not found" in low or "peer_id_invalid" in low:
            return Unreachable(text, code=400)
        return SendFailed(text, code=400, retryable=False)
    if isinstance(exc, tg.TimedOut):
        return SendFailed(text or "timed out", code="timeout", retryable=True)
    if isinstance(exc, tg.NetworkError):
        # Connection failures and Bot API 5xx: try again later.
        return SendFailed(text, code="network", retryable=True)
    return SendFailed(text, retryable=False)


# --- CLI helpers: webhook set-up, polling, deep links ---------------------------------------
def _with_bot(settings: Settings, work: Callable[[Bot], Coroutine[Any, Any, T]]) -> T:
    """Run `work` with a short-lived Bot on the shared loop, mapping errors to typed ones."""
    bot = _new_bot(settings)

    async def go() -> T:
        try:
            return await work(bot)
        finally:
            await _close(bot)

    try:
        return _run(go(), settings.http_timeout * 3 + 5)
    except tg.TelegramError as exc:
        raise typed(exc, settings.telegram_bot_token) from exc


def set_webhook(
    settings: Settings,
    url: str,
    *,
    allowed_updates: Sequence[str] = ALLOWED_UPDATES,
    drop_pending_updates: bool = False,
) -> bool:
    """Register `url` (https) with our secret token. https://core.telegram.org/bots/api#setwebhook"""
    secret = webhook_secret(settings)
    return _with_bot(
        settings,
        lambda bot: bot.set_webhook(
            url,
            secret_token=secret,
            allowed_updates=list(allowed_updates),
            drop_pending_updates=drop_pending_updates,
        ),
    )


def delete_webhook(settings: Settings, *, drop_pending_updates: bool = False) -> bool:
    """Back to getUpdates. https://core.telegram.org/bots/api#deletewebhook"""
    return _with_bot(
        settings, lambda bot: bot.delete_webhook(drop_pending_updates=drop_pending_updates)
    )


def deep_link(username: str, payload: str) -> str:
    """https://t.me/<bot>?start=<payload>; opening it sends us `/start <payload>`."""
    if not START_PAYLOAD.match(payload):
        raise ValueError("a start payload is 1-64 characters of A-Za-z0-9_-")
    return f"https://t.me/{username.lstrip('@')}?start={payload}"


def poll(
    settings: Settings,
    on_request: Callable[[WebRequest], None],
    *,
    stop: threading.Event | None = None,
    timeout: int = 25,
    allowed_updates: Sequence[str] = ALLOWED_UPDATES,
    attempts: int = 5,
) -> None:
    """Long polling: each update becomes the WebRequest a webhook would have received.

    `on_request` is the webhook's own handler, so both modes share one code path (the secret
    header is set, so `verify` passes). The offset advances only after an update was handled;
    an update that fails `attempts` times in a row is logged and skipped. A webhook must not be
    set while polling (409 Conflict), so it is removed first (pending updates are kept)."""
    stop = stop or threading.Event()
    delete_webhook(settings)
    bot = _new_bot(settings)
    loop = _shared_loop()
    headers = {"Content-Type": "application/json", SECRET_HEADER: webhook_secret(settings)}
    url = webhook_url(settings) or "http://localhost/webhooks/telegram"
    offset: int | None = None
    failures = 0
    pause = 1.0
    try:
        while not stop.is_set():
            future = loop.submit(
                bot.get_updates(
                    offset=offset, timeout=timeout, allowed_updates=list(allowed_updates)
                )
            )
            try:
                updates = _wait(future, stop)
            except tg.TelegramError as exc:
                err = typed(exc, settings.telegram_bot_token)
                if isinstance(err, ChannelConfig):
                    raise err from exc
                wait = err.retry_after if isinstance(err, Throttled) and err.retry_after else pause
                log.warning("telegram: getUpdates failed (%s); retrying in %.0fs", err, wait)
                stop.wait(wait)
                pause = min(pause * 2, 30.0)
                continue
            if updates is None:
                break  # stopped while waiting
            pause = 1.0
            for update in updates:
                body = json.dumps(update.to_dict(), separators=(",", ":")).encode()
                try:
                    on_request(WebRequest("POST", url, headers, {}, body))
                except Exception:
                    failures += 1
                    if failures < attempts:
                        log.exception("telegram: update %s failed; retrying", update.update_id)
                        stop.wait(min(2.0**failures, 30.0))
                        break  # fetch again from this update (handling is idempotent)
                    log.exception(
                        "telegram: update %s failed %d times; skipped", update.update_id, failures
                    )
                failures = 0
                offset = update.update_id + 1
    finally:
        _run(_close(bot), 10)


def _wait(future: Future[tuple[Update, ...]], stop: threading.Event) -> tuple[Update, ...] | None:
    """Wait for a long poll, cancelling it as soon as `stop` is set."""
    while True:
        try:
            return future.result(timeout=0.2)
        except FutureTimeout:
            if stop.is_set():
                future.cancel()
                return None
        except asyncio.CancelledError:
            return None

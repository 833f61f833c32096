"""The Telegram channel: Bot API updates in (`Update.de_json`), `telegram.Bot` calls out.

Addresses: `Inbound.sender` / `Outbound.to` are chat ids as strings. Our provider ids for
messages are "<chat_id>:<message_id>" (a message id is only unique within its chat); an edit's
receipt is "<chat_id>:<message_id>#edit-<random>", a callback answered alone "callback:<id>";
the webhook's provider id is the `update_id`.
Over 400 lines: the Bot API's update shapes and send paths, parsed and called in one place.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import re
import secrets
import threading
import weakref
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Literal, TypeVar

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

from channels.base import (
    Inbound,
    OptOutKind,
    Outbound,
    Parsed,
    Sent,
    TelegramSettings,
    WebRequest,
    WebResponse,
)
from channels.errors import BadPayload, ChannelConfig, Unreachable
from channels.telegram import admin, client
from channels.telegram.loop import Runner

log = logging.getLogger(__name__)
T = TypeVar("T")

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


class TelegramChannel:
    name = "telegram"
    route = "telegram"
    supports_buttons = True
    inline_replies = False

    def __init__(self, settings: TelegramSettings) -> None:
        self.settings = settings
        self.secret = admin.webhook_secret(settings).encode()
        self.limit = settings.http_timeout * 3 + 5
        # The channel's own loop: its Bot's httpx clients belong to the loop they were made on.
        self.runner = Runner()
        self._bot: Bot | None = None
        self._pid = 0
        self._lock = threading.Lock()
        self._finalizer: weakref.finalize[Any, TelegramChannel] | None = None
        self._username: str | None = None  # the bot's @username, from getMe

    @property
    def bot(self) -> Bot:
        with self._lock:
            # A forked child cannot use its parent's connections: it makes its own Bot.
            if self._bot is None or self._pid != os.getpid():
                self._bot, self._pid = client.new_bot(self.settings), os.getpid()
                if self._finalizer is not None:
                    self._finalizer.detach()
                self._finalizer = weakref.finalize(self, _release, self.runner, self._bot)
            return self._bot

    def close(self) -> None:
        """Close the Bot's HTTP connections and stop the loop (app shutdown, tests)."""
        if self._finalizer is not None:
            self._finalizer()
        self._bot = None
        self.runner.stop()  # also when the last Bot was already released

    # --- inbound ------------------------------------------------------------------------
    def verify(self, request: WebRequest) -> bool:
        given = request.header(admin.SECRET_HEADER)
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
        uid = str(data["update_id"])
        try:
            _shape(kind, data[kind])
            update = Update.de_json({"update_id": data["update_id"], kind: data[kind]}, None)
            return self._parsed(uid, update, data[kind])
        # A shape the Bot API never sends: PTB and our reading fail in these ways (a date past
        # year 9999 overflows).
        except (TypeError, KeyError, ValueError, AttributeError, OverflowError, OSError) as exc:
            raise BadPayload(f"malformed Telegram {kind} in update {uid}: {exc}") from exc

    def _parsed(self, uid: str, update: Update, raw: Any) -> Parsed:
        msg = update.message
        if msg is not None:
            return Parsed(messages=(_typed(_message(uid, msg, raw)),))
        if update.callback_query is not None:
            return Parsed(messages=(_typed(_callback(uid, update.callback_query)),))
        member = update.my_chat_member
        if member is not None and member.chat.type == "private":
            # Blocking the bot shows up as our member status becoming "kicked".
            # https://core.telegram.org/bots/api#chatmemberupdated
            status = member.new_chat_member.status
            kind = OptOutKind.STOP if status == "kicked" else OptOutKind.START
            user = member.from_user
            m = Inbound(
                channel=self.name,
                provider_id=uid,
                sender=str(member.chat.id),
                received_at=member.date,
                sender_name=user.full_name,
                opt_out=kind,
                chat_id=str(member.chat.id),
                language_hint=user.language_code,
            )
            return Parsed(messages=(_typed(m),))
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

    # --- set-up (channels.base.WebhookAdmin, Polling) -----------------------------------
    def webhook_url(self) -> str | None:
        return admin.webhook_url(self.settings)

    def set_webhook(
        self,
        url: str,
        *,
        allowed_updates: Sequence[str] | None = None,
        drop_pending_updates: bool = False,
    ) -> bool:
        kinds = admin.ALLOWED_UPDATES if allowed_updates is None else allowed_updates
        return self._call(
            admin.set_webhook(
                self.bot,
                self.settings,
                url,
                allowed_updates=kinds,
                drop_pending_updates=drop_pending_updates,
            )
        )

    def delete_webhook(self, *, drop_pending_updates: bool = False) -> bool:
        return self._call(admin.delete_webhook(self.bot, drop_pending_updates=drop_pending_updates))

    def poll(
        self,
        on_request: Callable[[WebRequest], None],
        *,
        stop: threading.Event,
        timeout: int = 25,
        attempts: int = 5,
    ) -> None:
        admin.poll(
            self.runner,
            self.bot,
            self.settings,
            on_request,
            stop=stop,
            timeout=timeout,
            attempts=attempts,
        )

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        try:
            return self.runner.run(coro, self.limit)
        except tg.TelegramError as exc:
            raise client.typed(exc, self.settings.telegram_bot_token) from exc


def _release(runner: Runner, bot: Bot) -> None:
    """Close a Bot's connections on its loop, then stop the loop: on `close`, or when the channel
    is collected unclosed. Best effort, briefly waited for (ResourceWarnings in tests otherwise)."""
    if not runner.running():
        return
    future = runner.submit(client.close(bot))
    if threading.current_thread() is not runner.thread:
        try:
            future.result(timeout=2)
        except Exception:  # closing is best effort
            log.debug("telegram: closing a bot failed", exc_info=True)
    runner.stop()


def build(settings: TelegramSettings) -> TelegramChannel | None:
    if not settings.telegram_bot_token:
        return None
    return TelegramChannel(settings)


# --- parsing helpers ------------------------------------------------------------------------
def _json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        # RecursionError: JSON nested deeper than the parser goes is no Telegram update either.
        raise BadPayload("Telegram updates are JSON (and not nested thousands deep)") from exc
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        raise BadPayload("not a Telegram Update: no integer update_id")
    return data


# The objects each handled update must carry (https://core.telegram.org/bots/api#update);
# PTB reads a missing one as None, which no later step expects.
_REQUIRED = {
    "message": ("chat",),
    "callback_query": ("from",),
    "my_chat_member": ("chat", "from", "new_chat_member"),
}


def _shape(kind: str, raw: Any) -> None:
    """The fields PTB passes through unchecked, checked: objects present, ids integers."""
    if not isinstance(raw, dict):
        raise TypeError(f"{kind} is not an object")
    for key in _REQUIRED[kind]:
        if not isinstance(raw.get(key), dict):
            raise TypeError(f"{kind} has no {key!r} object")
    for key in ("chat", "from"):
        if key in raw and not isinstance(raw[key].get("id"), int):
            raise TypeError(f"{kind}.{key}.id is not an integer")
    for key in ("text", "caption", "data"):
        if key in raw and not isinstance(raw[key], str):
            raise TypeError(f"{kind}.{key} is not a string")


def _typed(m: Inbound) -> Inbound:
    """An Inbound whose text fields are text (PTB keeps a number sent for a string as is)."""
    for name in ("text", "sender_name", "button", "callback_id", "language_hint"):
        value = getattr(m, name)
        if value is not None and not isinstance(value, str):
            raise TypeError(f"{name} is a {type(value).__name__}, not a string")
    return m


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


def deep_link(username: str, payload: str) -> str:
    """https://t.me/<bot>?start=<payload>; opening it sends us `/start <payload>`."""
    if not START_PAYLOAD.match(payload):
        raise ValueError("a start payload is 1-64 characters of A-Za-z0-9_-")
    return f"https://t.me/{username.lstrip('@')}?start={payload}"

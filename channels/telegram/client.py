"""The python-telegram-bot `Bot` we talk through, and its errors as the dispatcher's typed ones."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from telegram import Bot
from telegram import error as tg
from telegram.request import HTTPXRequest

from channels.base import TelegramSettings
from channels.errors import ChannelConfig, SendError, SendFailed, Throttled, Unreachable

DEFAULT_API_URL = "https://api.telegram.org/bot"


def api_url(settings: TelegramSettings) -> str:
    """PTB's `base_url`: the token is appended (`<url><token>/<method>`) unless the URL holds
    `{token}`. TELEGRAM_API_URL is given like the default, "https://api.telegram.org/bot"."""
    return settings.telegram_api_url or DEFAULT_API_URL


def _request(timeout: float, pool: int) -> HTTPXRequest:
    return HTTPXRequest(
        connection_pool_size=pool,
        read_timeout=timeout,
        write_timeout=timeout,
        connect_timeout=timeout,
        pool_timeout=timeout,
    )


def new_bot(settings: TelegramSettings) -> Bot:
    """A Bot with two connection pools, so a long poll never blocks a send (PTB adds the
    long-polling `timeout` to the getUpdates read timeout itself)."""
    token = settings.telegram_bot_token
    if not token:
        raise ChannelConfig("TELEGRAM_BOT_TOKEN is not set")
    normal = _request(settings.http_timeout, 32)
    updates = _request(settings.http_timeout, 1)
    # No `bot.initialize()`: it calls getMe; the request objects are ready once built.
    return Bot(token, base_url=api_url(settings), request=normal, get_updates_request=updates)


async def close(bot: Bot) -> None:
    await bot.request.shutdown()
    await _updates_request(bot).shutdown()


def _updates_request(bot: Bot) -> Any:
    # PTB keeps (get_updates_request, request); only `request` has a public accessor.
    return bot._request[0]


def retry_after(exc: tg.RetryAfter) -> float:
    """Seconds to wait: a timedelta with PTB_TIMEDELTA opted in, an int otherwise."""
    value: int | float | timedelta = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def typed(exc: tg.TelegramError, token: str | None = None) -> SendError:
    """A python-telegram-bot error as the dispatcher's typed error, the token cut out of its
    text (error texts are stored with the message, not only logged)."""
    text = str(exc).replace(token, "<token>") if token else str(exc)
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

"""Telegram set-up: the webhook's URL and secret token, registering it, and long polling.

https://core.telegram.org/bots/api#getting-updates: updates come either to a webhook or through
getUpdates (long polling), never both (409 Conflict).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Callable, Sequence

from telegram import Bot
from telegram import error as tg

from channels.base import TelegramSettings, WebRequest
from channels.errors import ChannelConfig, Throttled
from channels.telegram.client import typed
from channels.telegram.loop import Runner

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# The update types the conversation uses; everything else is acknowledged and dropped.
ALLOWED_UPDATES = ("message", "callback_query", "my_chat_member")
LOCAL_URL = "http://localhost/webhooks/telegram"


def webhook_secret(settings: TelegramSettings) -> str:
    """TELEGRAM_WEBHOOK_SECRET, or one derived from the token so webhooks are never unchecked.

    Telegram allows 1-256 characters of A-Za-z0-9_- (hex qualifies)."""
    if settings.telegram_webhook_secret:
        return settings.telegram_webhook_secret
    token = settings.telegram_bot_token or ""
    return hmac.new(token.encode(), b"npsbot-telegram-webhook", hashlib.sha256).hexdigest()


def webhook_url(settings: TelegramSettings) -> str | None:
    if not settings.public_base_url:
        return None
    return settings.public_base_url.rstrip("/") + "/webhooks/telegram"


async def set_webhook(
    bot: Bot,
    settings: TelegramSettings,
    url: str,
    *,
    allowed_updates: Sequence[str] = ALLOWED_UPDATES,
    drop_pending_updates: bool = False,
) -> bool:
    """Register `url` (https) with our secret token. https://core.telegram.org/bots/api#setwebhook"""
    return await bot.set_webhook(
        url,
        secret_token=webhook_secret(settings),
        allowed_updates=list(allowed_updates),
        drop_pending_updates=drop_pending_updates,
    )


async def delete_webhook(bot: Bot, *, drop_pending_updates: bool = False) -> bool:
    """Back to getUpdates. https://core.telegram.org/bots/api#deletewebhook"""
    return await bot.delete_webhook(drop_pending_updates=drop_pending_updates)


def poll(
    runner: Runner,
    bot: Bot,
    settings: TelegramSettings,
    on_request: Callable[[WebRequest], None],
    *,
    stop: threading.Event,
    timeout: int = 25,
    allowed_updates: Sequence[str] = ALLOWED_UPDATES,
    attempts: int = 5,
) -> None:
    """Long polling: each update becomes the WebRequest a webhook would have received.

    `on_request` is the webhook's own handler, so both modes share one code path (the secret
    header is set, so `verify` passes). The offset advances only after an update was handled;
    an update that fails `attempts` times in a row is logged and skipped. A webhook must not be
    set while polling (409 Conflict), so it is removed first (pending updates are kept)."""
    token = settings.telegram_bot_token
    limit = settings.http_timeout * 3 + 5
    try:
        runner.run(delete_webhook(bot), limit)
    except tg.TelegramError as exc:
        raise typed(exc, token) from exc
    headers = {"Content-Type": "application/json", SECRET_HEADER: webhook_secret(settings)}
    url = webhook_url(settings) or LOCAL_URL
    offset: int | None = None
    failures = 0
    pause = 1.0
    while not stop.is_set():
        future = runner.submit(
            bot.get_updates(offset=offset, timeout=timeout, allowed_updates=list(allowed_updates))
        )
        try:
            updates = runner.wait(future, stop)
        except tg.TelegramError as exc:
            err = typed(exc, token)
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

"""Telegram through python-telegram-bot 22. `build` is the registry's factory.

- channel.py: `TelegramChannel` (verify, parse, respond, send, deep links) and its helpers;
- loop.py: the event-loop `Runner` that lets sync code run python-telegram-bot's coroutines;
- client.py: the `Bot` and its errors as typed ones; admin.py: webhook set-up, long polling.
"""

from __future__ import annotations

import os

# PTB 22 deprecates int durations (RetryAfter.retry_after, …) and warns on every access, even
# inside its own RetryAfter constructor, unless the process opts in to timedelta values. We
# opt in (the documented migration path) before any module here imports it.
os.environ.setdefault("PTB_TIMEDELTA", "true")

from channels.telegram.channel import TelegramChannel, build

# Settings never to be logged: the token is in every Bot API URL; the secret signs webhooks.
SECRETS = ("telegram_bot_token", "telegram_webhook_secret")

__all__ = ["SECRETS", "TelegramChannel", "build"]

"""The explicit list of channels. A new channel is one module and one line here.

Each entry names a factory `build(settings) -> Channel | None` that returns None when the channel
is not configured. Modules are imported by name, on first use (`load`, `secrets`), never here.
A channel module declares the settings it holds secret in `SECRETS` (field names), as Apprise's
plugins mark their private fields; `secrets` gathers them for the log redaction (bot/logs.py).
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from collections.abc import Callable
from datetime import timedelta
from types import ModuleType
from typing import cast

from channels.base import Capabilities, Channel, ChannelSettings

FACTORIES: dict[str, str] = {
    "sandbox": "channels.sandbox:build",
    "sms": "channels.twilio:build_sms",
    "whatsapp": "channels.twilio:build_whatsapp",
    "telegram": "channels.telegram:build",
    "web": "channels.web:build",
}

# What each channel can do, known without loading its provider library or its settings.
CAPABILITIES: dict[str, Capabilities] = {
    "sandbox": Capabilities(buttons=True, inline_replies=True, sandbox=True, label="Sandbox"),
    # Twilio's default sender MPS: https://help.twilio.com/articles/115002943027
    # Twilio retries a webhook once by default, at most 5 times within 15 s:
    # https://www.twilio.com/docs/usage/webhooks/webhooks-connection-overrides
    "sms": Capabilities(
        inline_replies=True, phone_address=True, rate=10, label="SMS", brief_webhook_retries=True
    ),
    # https://developers.facebook.com/docs/whatsapp/pricing#customer-service-windows
    "whatsapp": Capabilities(
        inline_replies=True,
        phone_address=True,
        address_prefix="whatsapp:",
        session_window=timedelta(hours=24),
        rate=20,
        label="WhatsApp",
        brief_webhook_retries=True,  # Twilio's webhooks, as for "sms"
    ),
    # https://core.telegram.org/bots/features#deep-linking (bots cannot message first);
    # ~30 messages/s: https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this
    "telegram": Capabilities(
        buttons=True, needs_deep_link=True, staff_chat=True, rate=30, label="Telegram"
    ),
    # The survey page /s/<token>: the last resort of an invitation, and a QR without a chat.
    "web": Capabilities(inline_replies=True, page=True, label="Web"),
}


def capabilities(name: str) -> Capabilities:
    """A channel's capabilities; a name not listed has none."""
    return CAPABILITIES.get(name, Capabilities())


def named(**wanted: object) -> tuple[str, ...]:
    """The channels whose capabilities match, e.g. `named(phone_address=True)`."""
    return tuple(
        n for n, c in CAPABILITIES.items() if all(getattr(c, k) == v for k, v in wanted.items())
    )


def _module(name: str) -> ModuleType | None:
    module = FACTORIES[name].partition(":")[0]
    if importlib.util.find_spec(module) is None:
        return None  # not written yet
    return importlib.import_module(module)


def load(settings: ChannelSettings) -> dict[str, Channel]:
    """Every configured channel, by name."""
    out: dict[str, Channel] = {}
    for name in FACTORIES:
        module = _module(name)
        if module is None:
            continue
        build = cast(
            "Callable[[ChannelSettings], Channel | None]",
            getattr(module, FACTORIES[name].partition(":")[2]),
        )
        channel = build(settings)
        if channel is not None:
            out[name] = channel
    return out


# Provider modules that are not customer channels but hold credentials in their settings.
NOTIFIERS = ("channels.apprise",)


def secrets(settings: object) -> tuple[str, ...]:
    """The values of every setting a provider module declares secret (`SECRETS`), when set; a
    comma-separated list (several Apprise URLs) counts whole and item by item."""
    modules = [_module(name) for name in FACTORIES]
    modules += [importlib.import_module(m) for m in NOTIFIERS]
    fields: list[str] = []
    for module in modules:
        declared: tuple[str, ...] = getattr(module, "SECRETS", ()) if module else ()
        fields += [f for f in declared if f not in fields]
    out: list[str] = []
    for value in (getattr(settings, f, None) for f in fields):
        if isinstance(value, str) and value:
            out += [value, *(v for v in re.split(r"[,\s]+", value) if v and v != value)]
        elif isinstance(value, tuple | list):
            out += [v for v in value if isinstance(v, str) and v]
    return tuple(out)

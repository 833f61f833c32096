"""The explicit list of channels. A new channel is one module and one line here.

Each entry names a factory `build(settings) -> Channel | None` that returns None when the channel
is not configured. Modules are imported lazily, so an unused provider's library is never loaded.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, cast

from channels.base import Capabilities, Channel

if TYPE_CHECKING:
    from bot.config import Settings

FACTORIES: dict[str, str] = {
    "sandbox": "channels.sandbox:build",
    "sms": "channels.twilio:build_sms",
    "whatsapp": "channels.twilio:build_whatsapp",
    "telegram": "channels.telegram:build",
}

# What each channel can do, known without loading its provider library or its settings.
CAPABILITIES: dict[str, Capabilities] = {
    "sandbox": Capabilities(buttons=True, inline_replies=True, sandbox=True),
    "sms": Capabilities(inline_replies=True, phone_address=True),
    # https://developers.facebook.com/docs/whatsapp/pricing#customer-service-windows
    "whatsapp": Capabilities(
        inline_replies=True,
        phone_address=True,
        address_prefix="whatsapp:",
        session_window=timedelta(hours=24),
    ),
    # https://core.telegram.org/bots/features#deep-linking (bots cannot message first)
    "telegram": Capabilities(buttons=True, needs_deep_link=True, staff_chat=True),
}


def capabilities(name: str) -> Capabilities:
    """A channel's capabilities; a name not listed has none."""
    return CAPABILITIES.get(name, Capabilities())


def named(**wanted: object) -> tuple[str, ...]:
    """The channels whose capabilities match, e.g. `named(phone_address=True)`."""
    return tuple(
        n for n, c in CAPABILITIES.items() if all(getattr(c, k) == v for k, v in wanted.items())
    )


def _factory(name: str) -> Callable[[Settings], Channel | None]:
    module, _, attr = FACTORIES[name].partition(":")
    return cast(
        "Callable[[Settings], Channel | None]", getattr(importlib.import_module(module), attr)
    )


def load(settings: Settings) -> dict[str, Channel]:
    """Every configured channel, by name."""
    out: dict[str, Channel] = {}
    for name in FACTORIES:
        module = FACTORIES[name].partition(":")[0]
        if importlib.util.find_spec(module) is None:
            continue  # not written yet
        channel = _factory(name)(settings)
        if channel is not None:
            out[name] = channel
    return out

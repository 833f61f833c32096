"""The explicit list of channels. A new channel is one module and one line here.

Each entry names a factory `build(settings) -> Channel | None` that returns None when the channel
is not configured. Modules are imported lazily, so an unused provider's library is never loaded.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from channels.base import Channel

if TYPE_CHECKING:
    from bot.config import Settings

FACTORIES: dict[str, str] = {
    "sandbox": "channels.sandbox:build",
    "sms": "channels.twilio:build_sms",
    "whatsapp": "channels.twilio:build_whatsapp",
    "telegram": "channels.telegram:build",
}


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

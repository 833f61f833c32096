"""What every command shares: the settings, and a runtime closed when the command ends."""

from __future__ import annotations

import click

from bot.bootstrap import build_runtime
from bot.config import ConfigError, Settings, load_settings
from bot.runtime import Runtime


def settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def runtime() -> Runtime:
    """The command's runtime, closed (connections, provider clients) when the command ends."""
    rt = build_runtime(settings())
    click.get_current_context().call_on_close(rt.close)
    return rt

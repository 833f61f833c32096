"""`npsbot telegram set-webhook|delete-webhook|poll`, through the configured channel's
`WebhookAdmin` and `Polling` operations (channels.base)."""

from __future__ import annotations

import signal
import threading

import click

from bot.bootstrap import build_runtime
from bot.cli.common import settings
from bot.inbound.webhook import handle_webhook
from bot.logs import setup_logging
from bot.runtime import Runtime
from channels.base import Polling, WebhookAdmin, WebRequest
from channels.errors import SendError
from scheduler.loop import Loop

NOT_CONFIGURED = "Telegram is not configured: set TELEGRAM_BOT_TOKEN"


def _admin(rt: Runtime) -> WebhookAdmin:
    channel: object = rt.channels.get("telegram")
    if not isinstance(channel, WebhookAdmin):
        raise click.ClickException(NOT_CONFIGURED)
    return channel


def _polling(rt: Runtime) -> Polling:
    channel: object = rt.channels.get("telegram")
    if not isinstance(channel, Polling):
        raise click.ClickException(NOT_CONFIGURED)
    return channel


def _set_up() -> Runtime:
    """A runtime for a set-up command: the channels only, the database is not touched."""
    rt = build_runtime(settings(), sync=False)
    click.get_current_context().call_on_close(rt.close)
    return rt


@click.group()
def telegram() -> None:
    """Telegram: webhook registration and long polling."""


@telegram.command("set-webhook")
@click.option("--url", default=None, help="Default: $PUBLIC_BASE_URL/webhooks/telegram.")
@click.option(
    "--allowed-updates", default="message,callback_query,my_chat_member", show_default=True
)
@click.option("--drop-pending-updates", is_flag=True)
def telegram_set_webhook(url: str | None, allowed_updates: str, drop_pending_updates: bool) -> None:
    """Register this app's webhook at Telegram, with the secret token."""
    admin = _admin(_set_up())
    url = url or admin.webhook_url()
    if not url:
        raise click.ClickException("set PUBLIC_BASE_URL (or pass --url)")
    try:
        admin.set_webhook(
            url,
            allowed_updates=[u for u in allowed_updates.split(",") if u],
            drop_pending_updates=drop_pending_updates,
        )
    except SendError as exc:
        raise click.ClickException(f"Telegram refused: {exc}") from exc
    click.echo(f"webhook set: {url}")


@telegram.command("delete-webhook")
@click.option("--drop-pending-updates", is_flag=True)
def telegram_delete_webhook(drop_pending_updates: bool) -> None:
    """Remove the webhook (needed before polling)."""
    admin = _admin(_set_up())
    try:
        admin.delete_webhook(drop_pending_updates=drop_pending_updates)
    except SendError as exc:
        raise click.ClickException(f"Telegram refused: {exc}") from exc
    click.echo("webhook removed")


@telegram.command("poll")
def telegram_poll() -> None:
    """Long polling (no public URL needed); updates take the webhook's code path."""
    conf = settings()
    setup_logging(conf)
    rt = build_runtime(conf)
    click.get_current_context().call_on_close(rt.close)
    polling = _polling(rt)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def on_request(req: WebRequest) -> None:
        answer = handle_webhook(rt, "telegram", req)
        if answer.status >= 500:
            raise RuntimeError(f"storage failed ({answer.status}): the update will be retried")

    loop = Loop(rt)  # replies and surveys leave through the dispatcher, as in `serve`
    loop.start()
    click.echo("polling Telegram (Ctrl+C to stop)")
    try:
        polling.poll(on_request, stop=stop)
    except KeyboardInterrupt:
        stop.set()
    except SendError as exc:
        raise click.ClickException(f"Telegram refused: {exc}") from exc
    finally:
        loop.stop()

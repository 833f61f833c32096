"""`npsbot telegram set-webhook|delete-webhook|poll`."""

from __future__ import annotations

import signal
import threading

import click

from bot.bootstrap import build_runtime
from bot.cli.common import settings
from bot.inbound.webhook import handle_webhook
from bot.logs import setup_logging
from channels.base import WebRequest
from channels.errors import SendError
from scheduler.loop import Loop


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
    from channels import telegram as tg

    conf = settings()
    url = url or tg.webhook_url(conf)
    if not conf.telegram_bot_token or not url:
        raise click.ClickException("set TELEGRAM_BOT_TOKEN and PUBLIC_BASE_URL (or pass --url)")
    try:
        tg.set_webhook(
            conf,
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
    from channels import telegram as tg

    tg.delete_webhook(settings(), drop_pending_updates=drop_pending_updates)
    click.echo("webhook removed")


@telegram.command("poll")
def telegram_poll() -> None:
    """Long polling (no public URL needed); updates take the webhook's code path."""
    from channels import telegram as tg

    conf = settings()
    setup_logging(conf)
    rt = build_runtime(conf)
    if "telegram" not in rt.channels:
        raise click.ClickException("set TELEGRAM_BOT_TOKEN")
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
        tg.poll(conf, on_request, stop=stop)
    except KeyboardInterrupt:
        stop.set()
    finally:
        loop.stop()

"""The `npsbot` command. Each command is a thin wrapper over a plain function."""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

import click

from bot.config import ConfigError, Settings, load_settings


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


class _Cli(click.Group):
    """Turns "the database is not ready" into a one-line error instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from bot.runtime import NotReady

        try:
            return super().invoke(ctx)
        except NotReady as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=_Cli)
def main() -> None:
    """npsbot: Net Promoter Score surveys over WhatsApp, SMS and Telegram."""


@main.group()
def db() -> None:
    """Database migrations."""


@db.command("upgrade")
@click.argument("revision", default="heads")
def db_upgrade(revision: str) -> None:
    """Migrate the database to REVISION (default: the latest)."""
    from bot.storage.migrate import upgrade

    upgrade(_settings().database_url, revision)
    click.echo("database is up to date")


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Migrate the database back to REVISION ("base" empties it)."""
    from bot.storage.migrate import downgrade

    downgrade(_settings().database_url, revision)


@db.command("revision")
@click.option("-m", "--message", required=True)
def db_revision(message: str) -> None:
    """Autogenerate a migration from bot.storage.models (read it by hand before committing)."""
    from bot.storage.migrate import revision

    revision(_settings().database_url, message)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=None, help="Default: $PORT or 8000.")
@click.option("--threads", type=int, default=8, show_default=True)
def serve(host: str, port: int | None, threads: int) -> None:
    """Run the web app and, in the same process, the dispatcher loop (single-machine default)."""
    from bot.bootstrap import build_runtime
    from bot.web.serve import serve as run

    settings = _settings()
    build_runtime(settings).close()  # fail here, in one line, if the database is not ready
    run(settings, host=host, port=port or int(os.environ.get("PORT", 8000)), threads=threads)


@main.command()
def worker() -> None:
    """Run the dispatcher loop (scale out: any number of workers on PostgreSQL)."""
    from bot.bootstrap import build_runtime
    from bot.logs import setup_logging, warm_up
    from scheduler.loop import Loop

    settings = _settings()
    setup_logging(settings)
    warm_up()
    rt = build_runtime(settings)
    loop = Loop(rt, blocking=True)

    def _stop(*_: Any) -> None:
        loop.stop()
        sys.exit(0)

    signal.signal(signal.SIGTERM, _stop)
    click.echo(f"worker started: channels {', '.join(sorted(rt.channels)) or 'none'}")
    loop.start()


@main.group()
def apikey() -> None:
    """API keys for the business API."""


def _runtime() -> Any:
    """The command's runtime, closed (connections, provider clients) when the command ends."""
    from bot.bootstrap import build_runtime

    rt = build_runtime(_settings())
    click.get_current_context().call_on_close(rt.close)
    return rt


@apikey.command("create")
@click.argument("name")
def apikey_create(name: str) -> None:
    """Create a key named NAME and print it (the only time it is shown)."""
    from bot.accounts.apikeys import ApiKeyError, create_key

    rt = _runtime()
    try:
        with rt.db.session() as s:
            key = create_key(s, name, rt.clock())
    except ApiKeyError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(key)


@apikey.command("revoke")
@click.argument("name")
def apikey_revoke(name: str) -> None:
    """Revoke the key named NAME."""
    from bot.accounts.apikeys import ApiKeyError, revoke_key

    rt = _runtime()
    try:
        with rt.db.session() as s:
            revoke_key(s, name, rt.clock())
    except ApiKeyError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"revoked {name}")


@main.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def import_cmd(path: str) -> None:
    """Import purchases from a CSV file (columns: order_id, customer_id, name, phone,
    telegram_chat_id, language, timezone, survey, occurred_at, delay_minutes, channels,
    metadata.<key>). Bad lines are reported by number; the rest are imported; re-running the
    file creates nothing twice."""
    from pathlib import Path

    from bot.survey.importer import import_purchases, rows

    rt = _runtime()
    try:
        total = sum(1 for _ in rows(Path(path)))
        with click.progressbar(length=total, label="importing", file=sys.stderr) as bar:
            report = import_purchases(rt, Path(path), bar.update)
    except (ValueError, UnicodeDecodeError) as exc:
        raise click.ClickException(str(exc)) from exc
    for line, reason in report.errors:
        click.echo(f"{path}: line {line}: {reason}", err=True)
    click.echo(
        f"{report.created} scheduled, {report.skipped} skipped by the rules, "
        f"{report.unchanged} already imported, {len(report.errors)} with errors"
    )
    if report.errors:
        sys.exit(1)


@main.group()
def invitations() -> None:
    """Invitations an operator must look at."""


@invitations.command("unknown")
def invitations_unknown() -> None:
    """List invitations whose send may or may not have happened (a worker died mid-send)."""
    from bot.survey.operator import unknown_invitations

    rows = unknown_invitations(_runtime())
    for inv_id, order_id, channel, since in rows:
        click.echo(f"{inv_id}\t{order_id or '-'}\t{channel or '-'}\t{since:%Y-%m-%d %H:%M}")
    click.echo(f"{len(rows)} unknown", err=True)


@invitations.command("resolve")
@click.argument("invitation_id", type=int)
@click.option(
    "--as",
    "outcome",
    type=click.Choice(["sent", "resend", "failed"]),
    required=True,
    help="sent: the customer got it; resend: schedule it again; failed: give up.",
)
def invitations_resolve(invitation_id: int, outcome: str) -> None:
    """Decide what happened to an `unknown` invitation."""
    from bot.survey.operator import resolve_unknown

    try:
        resolve_unknown(_runtime(), invitation_id, outcome)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"invitation {invitation_id}: {outcome}")


@main.group()
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
    from channels.errors import SendError

    settings = _settings()
    url = url or tg.webhook_url(settings)
    if not settings.telegram_bot_token or not url:
        raise click.ClickException("set TELEGRAM_BOT_TOKEN and PUBLIC_BASE_URL (or pass --url)")
    try:
        tg.set_webhook(
            settings,
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

    tg.delete_webhook(_settings(), drop_pending_updates=drop_pending_updates)
    click.echo("webhook removed")


@telegram.command("poll")
def telegram_poll() -> None:
    """Long polling (no public URL needed); updates take the webhook's code path."""
    import threading

    from bot.bootstrap import build_runtime
    from bot.inbound.receive import handle_webhook
    from bot.logs import setup_logging
    from channels import telegram as tg
    from channels.base import WebRequest
    from scheduler.loop import Loop

    settings = _settings()
    setup_logging(settings)
    rt = build_runtime(settings)
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
        tg.poll(settings, on_request, stop=stop)
    except KeyboardInterrupt:
        stop.set()
    finally:
        loop.stop()


@main.command()
def cases() -> None:
    """List open cases with their ages and owners."""
    from bot.bootstrap import build_runtime
    from bot.staff import list_open_cases

    rt = build_runtime(_settings(), sync=False)
    try:
        with rt.db.session() as s:
            lines = list_open_cases(s, rt.clock())
    finally:
        rt.close()
    click.echo("\n".join(lines) if lines else "no open cases")


@main.command()
@click.option("--period", type=click.Choice(["daily", "weekly"]), default="daily")
def digest(period: str) -> None:
    """Print the digest of the last complete day or week (what the staff chat receives)."""
    from bot.bootstrap import build_runtime
    from bot.staff import digest as d

    rt = build_runtime(_settings(), sync=False)
    try:
        now = rt.clock()
        with rt.db.session() as s:
            click.echo(d.render(d.build(s, period, d.bounds(period, now)[1], now), now))
    finally:
        rt.close()


def _report_filters(options: dict[str, Any], meta: tuple[str, ...]) -> Any:
    """`npsbot report`/`export` options → the API's filters (same names, same errors)."""
    from bot.insights import FilterError, parse_filters

    args: dict[str, list[str]] = {
        k: [v] for k, v in options.items() if v is not None and k not in ("meta",)
    }
    for item in meta:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r}: use KEY=VALUE", param_hint="--meta")
        args[f"meta.{key}"] = [value]
    try:
        return parse_filters(args)
    except FilterError as exc:
        raise click.BadParameter(exc.reason, param_hint=f"--{exc.param}") from exc


def _filter_options(fn: Any) -> Any:
    for name, help_ in reversed(
        [
            ("from", "start: YYYY-MM-DD or RFC 3339"),
            ("to", "end: YYYY-MM-DD (inclusive) or RFC 3339"),
            ("survey", "survey key(s), comma-separated"),
            ("channel", "channel(s), comma-separated"),
            ("language", "es, en, pt"),
            ("category", "promoter, passive or detractor"),
        ]
    ):
        fn = click.option(f"--{name}", f"opt_{name}", default=None, help=help_)(fn)
    return click.option(
        "--meta", multiple=True, metavar="KEY=VALUE", help="purchase metadata, e.g. store=centro"
    )(fn)


def _opts(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k[4:]: v for k, v in kwargs.items() if k.startswith("opt_")}


@main.command()
@_filter_options
@click.option("--interval", type=click.Choice(["day", "week", "month"]), default="week")
def report(meta: tuple[str, ...], interval: str, **kwargs: Any) -> None:
    """Print the NPS report: NPS with its margin, trend sparkline, distribution, themes."""
    from bot.insights.exports import render_report

    f = _report_filters(_opts(kwargs), meta)
    rt = _runtime()
    try:
        with rt.db.session() as s:
            click.echo(render_report(s, f, interval))
    finally:
        rt.close()


@main.command()
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
@_filter_options
def export(path: str, meta: tuple[str, ...], **kwargs: Any) -> None:
    """Export the responses matching the filters to PATH (.csv or .xlsx)."""
    from bot.insights.exports import ExportError, export_responses

    f = _report_filters(_opts(kwargs), meta)
    rt = _runtime()
    try:
        with rt.db.session() as s:
            n = export_responses(s, f, path)
    except ExportError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        rt.close()
    click.echo(f"exported {n} responses to {path}")


@main.group("insights")
def insights_group() -> None:
    """The reports' daily rollup."""


@insights_group.command("refresh")
@click.option("--full", is_flag=True, help="empty the rollup and rebuild it from every response")
def insights_refresh(full: bool) -> None:
    """Bring the rollup up to yesterday (UTC) and rebuild changed days (the worker does this
    every minute; the first run backfills)."""
    from datetime import UTC

    from bot import insights

    rt = _runtime()
    try:
        today = rt.clock().astimezone(UTC).date()
        if full:
            with rt.db.session_for_update() as s:
                insights.reset_rollup(s)
        while True:
            with rt.db.session_for_update() as s:
                done = insights.refresh_rollup(s, today, max_days=insights.ROLLUP_CHUNK_DAYS)
            click.echo(f"rollup up to {done.upto}: {done.days} days rebuilt", err=True)
            if not done.behind:
                break
    finally:
        rt.close()


@main.group()
def user() -> None:
    """Staff accounts for the dashboard."""


@user.command("create")
@click.argument("username")
@click.option("--readonly", is_flag=True, help="can see the dashboard but not act on cases")
@click.password_option(help="asked for when not given (at least 10 characters)")
def user_create(username: str, readonly: bool, password: str) -> None:
    """Create a dashboard account USERNAME."""
    from bot.accounts.users import UserError, create_user
    from bot.storage.models import StaffRole

    rt = _runtime()
    try:
        with rt.db.session() as s:
            role = StaffRole.READONLY if readonly else StaffRole.STAFF
            create_user(s, username, password, rt.clock(), role)
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        rt.close()
    click.echo(f"created {'read-only ' if readonly else ''}user {username}")


@user.command("password")
@click.argument("username")
@click.password_option()
def user_password(username: str, password: str) -> None:
    """Set a new password for USERNAME (also lifts a lock-out)."""
    from bot.accounts.users import UserError, set_password

    rt = _runtime()
    try:
        with rt.db.session() as s:
            set_password(s, username, password)
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        rt.close()
    click.echo(f"password changed for {username}")


@user.command("list")
def user_list() -> None:
    """List dashboard accounts."""
    from bot.accounts.users import list_users

    rt = _runtime()
    try:
        with rt.db.session() as s:
            for u in list_users(s):
                last = f"{u.last_login_at:%Y-%m-%d %H:%M}" if u.last_login_at else "never"
                click.echo(f"{u.username}\t{u.role}\tlast log-in {last}")
    finally:
        rt.close()


if __name__ == "__main__":
    main()

"""`npsbot user create|password|list`: dashboard accounts."""

from __future__ import annotations

import click

from bot.accounts.users import UserError, create_user, list_users, set_password
from bot.cli.common import runtime
from bot.storage.models import StaffRole


@click.group()
def user() -> None:
    """Staff accounts for the dashboard."""


@user.command("create")
@click.argument("username")
@click.option("--readonly", is_flag=True, help="can see the dashboard but not act on cases")
@click.password_option(help="asked for when not given (at least 10 characters)")
def user_create(username: str, readonly: bool, password: str) -> None:
    """Create a dashboard account USERNAME."""
    rt = runtime()
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
    """Set a new password for USERNAME (also ends their dashboard sessions)."""
    rt = runtime()
    try:
        with rt.db.session() as s:
            set_password(s, username, password)
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        rt.close()
    click.echo(f"password changed for {username}: their dashboard sessions have ended")


@user.command("list")
def user_list() -> None:
    """List dashboard accounts."""
    rt = runtime()
    try:
        with rt.db.session() as s:
            for u in list_users(s):
                last = f"{u.last_login_at:%Y-%m-%d %H:%M}" if u.last_login_at else "never"
                click.echo(f"{u.username}\t{u.role}\tlast log-in {last}")
    finally:
        rt.close()

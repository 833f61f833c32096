"""`npsbot user create|role|password|disable|enable|list`: dashboard accounts (the same
`bot.accounts.users` functions the dashboard's team page calls); each change is an audit row
(actor and source "cli")."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import click
from sqlalchemy.orm import Session

from bot.accounts.users import (
    UserError,
    create_user,
    list_users,
    set_disabled,
    set_password,
    set_role,
)
from bot.cli.common import runtime
from bot.storage.audit import CLI, record
from bot.storage.models import StaffRole

ROLES = click.Choice([str(r) for r in StaffRole])
ROLE_HELP = "owner: everything, incl. users and surveys; agent: cases and replies; viewer: reads"


@contextmanager
def writing() -> Iterator[tuple[Session, datetime]]:
    """A writing transaction and the time; a refused change is one line, exit code 1."""
    rt = runtime()
    try:
        with rt.db.session_for_update() as s:
            yield s, rt.clock()
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        rt.close()


def _audit(s: Session, now: datetime, action: str, username: str, **detail: str) -> None:
    record(
        s,
        at=now,
        actor=CLI,
        action=f"user.{action}",
        target=f"user:{username}",
        source=CLI,
        **detail,
    )


@click.group()
def user() -> None:
    """Staff accounts for the dashboard."""


@user.command("create")
@click.argument("username")
@click.option("--role", type=ROLES, help=ROLE_HELP + " [first user: owner, then: agent]")
@click.option("--readonly", is_flag=True, hidden=True, help="the same as --role viewer")
@click.password_option(help="asked for when not given (at least 10 characters)")
def user_create(username: str, role: str | None, readonly: bool, password: str) -> None:
    """Create a dashboard account USERNAME."""
    with writing() as (s, now):
        made = create_user(s, username, password, now, StaffRole.VIEWER if readonly else role)
        role = made.role
        _audit(s, now, "create", made.username, role=made.role)
    click.echo(f"created user {username} ({role})")


@user.command("role")
@click.argument("username")
@click.argument("role", type=ROLES)
def user_role(username: str, role: str) -> None:
    """Give USERNAME another ROLE (their dashboard sessions end)."""
    with writing() as (s, now):
        _audit(s, now, "role", set_role(s, username, role).username, role=role)
    click.echo(f"{username} is now {role}")


@user.command("password")
@click.argument("username")
@click.password_option()
def user_password(username: str, password: str) -> None:
    """Set a new password for USERNAME (also ends their dashboard sessions)."""
    with writing() as (s, now):
        _audit(s, now, "password", set_password(s, username, password).username)
    click.echo(f"password changed for {username}: their dashboard sessions have ended")


@user.command("disable")
@click.argument("username")
def user_disable(username: str) -> None:
    """Disable USERNAME: no more log-ins, and their dashboard sessions end."""
    with writing() as (s, now):
        _audit(s, now, "disable", set_disabled(s, username, True, now).username)
    click.echo(f"{username} is disabled: their dashboard sessions have ended")


@user.command("enable")
@click.argument("username")
def user_enable(username: str) -> None:
    """Let a disabled USERNAME log in again."""
    with writing() as (s, now):
        _audit(s, now, "enable", set_disabled(s, username, False, now).username)
    click.echo(f"{username} may log in again")


@user.command("list")
def user_list() -> None:
    """List dashboard accounts."""
    rt = runtime()
    try:
        with rt.db.session() as s:
            for u in list_users(s):
                last = f"{u.last_login_at:%Y-%m-%d %H:%M}" if u.last_login_at else "never"
                off = "\tdisabled" if u.disabled_at else ""
                click.echo(f"{u.username}\t{u.role}\tlast log-in {last}{off}")
    finally:
        rt.close()

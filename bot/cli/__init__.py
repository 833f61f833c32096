"""The `npsbot` command: one module per command group, each command a thin wrapper over a
plain function of the feature it drives."""

from __future__ import annotations

from typing import Any

import click

from bot.cli import (
    apikey,
    audit,
    contacts,
    db,
    delighted,
    outbox,
    programs,
    purchases,
    reports,
    retention,
    run,
    shops,
    staff,
    surveys,
    telegram,
    touchpoints,
    users,
    webhooks,
)
from bot.runtime import NotReady


class _Cli(click.Group):
    """Turns "the database is not ready" (or a file the system refused) into a one-line error
    instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NotReady as exc:
            raise click.ClickException(str(exc)) from exc
        except OSError as exc:
            where = f": {exc.filename}" if exc.filename else ""
            raise click.ClickException(f"{exc.strerror or exc}{where}") from exc


@click.group(cls=_Cli)
def main() -> None:
    """npsbot: Net Promoter Score surveys over WhatsApp, SMS and Telegram."""


for command in (
    db.db,
    run.serve,
    run.worker,
    apikey.apikey,
    purchases.import_cmd,
    delighted.import_delighted,
    contacts.contacts,
    programs.programs,
    purchases.invitations,
    outbox.outbox,
    telegram.telegram,
    staff.cases,
    staff.digest,
    reports.report,
    reports.export,
    reports.insights_group,
    retention.retention,
    users.user,
    audit.audit,
    surveys.surveys,
    touchpoints.touchpoints,
    shops.shops,
    webhooks.webhooks,
):
    main.add_command(command)


if __name__ == "__main__":
    main()

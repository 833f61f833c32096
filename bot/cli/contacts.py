"""`npsbot contacts import|show|export`: customers known without a purchase, and everything
npsbot holds about one."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from sqlalchemy import select

from bot.cli.common import runtime
from bot.cli.purchases import describe, finish
from bot.privacy.access import NotFound, export_contact
from bot.storage.models import Contact
from bot.survey.customers import contact_json
from bot.survey.importer import FileError, contact_column, import_contacts, read_table


@click.group()
def contacts() -> None:
    """Customers, with their attributes and consent (also PUT /api/v1/contacts/{id})."""


@contacts.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--day-first/--month-first",
    default=None,
    help="How to read a consent_at like 01/12/2026 (default as `npsbot import`).",
)
def import_contacts_cmd(path: str, day_first: bool | None) -> None:
    """Create or update contacts from a CSV file (columns: customer_id, name, phone,
    telegram_chat_id, language, timezone, attribute.<key>, consent.<channel> = yes/no,
    consent_source, consent_at). Read as `npsbot import` reads purchases; bad lines are reported
    by number, the rest imported; re-running the file changes nothing twice."""
    rt = runtime()
    try:
        table = read_table(Path(path), day_first, "customer_id", contact_column)
    except FileError as exc:
        raise click.ClickException(str(exc)) from exc
    for note in describe(path, table, "consent_at"):
        click.echo(note, err=True)
    with click.progressbar(length=len(table.rows), label="importing", file=sys.stderr) as bar:
        report = import_contacts(rt, table, bar.update)
    finish(
        path,
        report,
        "ambiguous consent date(s)",
        f"{report.created} created, {report.unchanged} updated, {len(report.errors)} with errors",
    )


@contacts.command("show")
@click.argument("contact_id")
def show(contact_id: str) -> None:
    """Print a contact as the API gives it (JSON)."""
    rt = runtime()
    with rt.db.session() as s:
        contact = s.scalar(select(Contact).where(Contact.external_id == contact_id))
        if contact is None:
            raise click.ClickException(f"no contact {contact_id!r}")
        click.echo(json.dumps(contact_json(s, contact), ensure_ascii=False, indent=1))


@contacts.command("export")
@click.argument("contact_id")
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, writable=True), help="Write it to FILE."
)
def export_cmd(contact_id: str, output: str | None) -> None:
    """Everything npsbot holds about a contact, as JSON (format npsbot.contact-export/1, the
    same as GET /api/v1/contacts/{id}/export; docs/privacy.md). The export is audited."""
    rt = runtime()
    try:
        with rt.db.session_for_update() as s:
            doc = export_contact(
                s,
                contact_id,
                at=rt.clock(),
                actor="cli",
                source="cli",
                show_staff_names=rt.settings.staff_show_names,
            )
    except NotFound:
        raise click.ClickException(f"no contact {contact_id!r}") from None
    text = json.dumps(doc, ensure_ascii=False, indent=1)
    if output is None:
        click.echo(text)
        return
    Path(output).write_text(text + "\n", encoding="utf-8")
    click.echo(f"{contact_id}: written to {output}", err=True)

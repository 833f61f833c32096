"""`npsbot contacts import|show|erase`: customers known without a purchase, and erasing one."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from sqlalchemy import select

from bot.cli.common import runtime
from bot.cli.purchases import describe, finish
from bot.inbound.spool import after_erasure
from bot.privacy.erasure import addresses_of, erase_contact, find_by_phone
from bot.storage.models import Contact
from bot.survey.contacts import normalise_phone
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


@contacts.command("erase")
@click.argument("contact_id", required=False)
@click.option("--phone", help="The customer's phone number instead of their id (+52…).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def erase(contact_id: str | None, phone: str | None, yes: bool) -> None:
    """Erase a customer (by id, or --phone): their name, addresses, messages' texts, comments
    and cases go; their scores stay, anonymous (docs/privacy.md). It cannot be undone."""
    if (contact_id is None) == (phone is None):
        raise click.UsageError("give the contact's ID or --phone, one of them")
    rt = runtime()
    named = contact_id if contact_id is not None else phone
    if not yes:
        click.confirm(
            f"Erase everything npsbot holds about {named}? It cannot be undone", abort=True
        )
    with rt.db.session_for_update() as s:
        if phone is not None:
            try:
                found = find_by_phone(s, normalise_phone(phone, rt.settings.default_country))
            except ValueError as exc:
                raise click.BadParameter(str(exc), param_hint="--phone") from exc
        else:
            found = s.scalar(select(Contact.id).where(Contact.external_id == contact_id))
        if found is None:
            raise click.ClickException(f"no contact {named!r}")
        addresses = addresses_of(s, found)
        e = erase_contact(s, found, at=rt.clock(), actor="cli", source="cli")
    after_erasure(rt, addresses)
    click.echo(
        f"erased {named}: {e.responses_kept} score(s) kept anonymous, "
        f"{e.invitations_cancelled} invitation(s) cancelled, {e.messages_scrubbed} message(s) "
        f"emptied, {e.cases_removed} case(s) removed ({len(e.open_case_ids)} open: staff told)"
    )

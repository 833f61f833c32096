"""`npsbot import-delighted responses.csv`: a Delighted export's history, so the trend continues
across the move. Each line is a completed response at its own date (`responses.record_response`),
linked to the contact its e-mail or phone names, or anonymous; idempotent on Delighted's
response id. The file is read like every import (`bot.survey.importer.read_table`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from bot.integrations.delighted.responses import NewResponse, history_survey, record_response
from bot.runtime import Runtime
from bot.storage.models import Contact, Invitation
from bot.survey.contacts import normalise_phone
from bot.survey.customers import Customer, upsert_contact
from bot.survey.importer import Report, Table, parse_date

# The columns Delighted's export names (https://help.delighted.com, "Exporting your data");
# every other column is one of the person's properties, kept as the response's metadata.
ID, SCORE, COMMENT, WHEN, NAME, EMAIL = (
    "Response ID",
    "Score",
    "Comment",
    "Response Timestamp",
    "Name",
    "Email",
)
PHONES = ("Phone Number", "Phone", "Phone number", "phone_number")
SURVEY_TYPE = "Survey Type"
# Delighted's own columns that are not the person's properties.
LEFT_OUT = {"Permalink", "Notes", "Tags", SURVEY_TYPE, "Person ID", "Last Sent At"}
FIELDS = {ID, SCORE, COMMENT, WHEN, NAME, EMAIL, *PHONES}
ORDER_PREFIX = "delighted:"  # the invitation's order id: the response id, once
MAX_ID = 128 - len(ORDER_PREFIX)


class LineError(ValueError):
    """One line refused: the message names the column."""


@dataclass(frozen=True)
class Line:
    response_id: str
    score: int
    comment: str | None
    at: datetime
    ambiguous: bool
    customer: Customer | None  # None: anonymous
    properties: Mapping[str, str]


def moment(raw: str, day_first: bool) -> tuple[datetime, bool]:
    """A unix timestamp (Delighted's API form) or a date as a spreadsheet writes it (UTC)."""
    raw = raw.strip()
    if raw.isascii() and raw.isdigit():
        return datetime.fromtimestamp(int(raw), UTC), False
    iso, ambiguous = parse_date(raw, day_first, None)
    return datetime.fromisoformat(iso).astimezone(UTC), ambiguous


def parse_line(row: Mapping[str, str | None], day_first: bool, country: str) -> Line:
    """One export line, checked (pure: no database)."""

    def cell(name: str) -> str:
        return (row.get(name) or "").strip()

    rid = cell(ID)
    if not rid or len(rid) > MAX_ID:
        raise LineError(f"{ID}: required, at most {MAX_ID} characters")
    kind = cell(SURVEY_TYPE).lower()
    if kind and kind != "nps":
        raise LineError(f"{SURVEY_TYPE}: {kind!r} is not an NPS response (0-10)")
    raw_score = cell(SCORE)
    if not (raw_score.isascii() and raw_score.isdigit()) or not 0 <= int(raw_score) <= 10:
        raise LineError(f"{SCORE}: must be a whole number from 0 to 10, not {raw_score!r}")
    try:
        at, ambiguous = moment(cell(WHEN), day_first)
    except (ValueError, OverflowError, OSError) as exc:
        raise LineError(f"{WHEN}: {exc}" if cell(WHEN) else f"{WHEN}: required") from None
    phone = next((cell(p) for p in PHONES if cell(p)), "") or None
    if phone is not None:
        try:
            phone = normalise_phone(phone, country)
        except ValueError as exc:
            raise LineError(f"Phone Number: {exc}") from None
    email = cell(EMAIL).lower() or None
    if email is not None and (email.count("@") != 1 or len(email) > 254):
        raise LineError(f"{EMAIL}: not an e-mail address: {email[:60]!r}")
    named = phone is not None or email is not None
    customer = Customer(phone=phone, email=email, name=cell(NAME)[:200] or None) if named else None
    properties = {
        str(k): v.strip()
        for k, v in row.items()
        if k and k not in FIELDS and k not in LEFT_OUT and v and v.strip()
    }
    comment = cell(COMMENT)[:5000] or None
    return Line(rid, int(raw_score), comment, at, ambiguous, customer, properties)


def import_export(
    rt: Runtime,
    table: Table,
    survey_key: str = "delighted",
    progress: Callable[[int], None] = lambda _n: None,
) -> Report:
    """Each line in its own transaction: a bad line is reported, the others are imported."""
    report = Report()
    country = rt.settings.default_country
    for number, row in table.rows:
        progress(1)
        try:
            line = parse_line(row, table.day_first, country)
        except LineError as exc:
            report.errors.append((number, str(exc)))
            continue
        if line.ambiguous:
            report.ambiguous.append((number, (row.get(WHEN) or "").strip()))
        order = f"{ORDER_PREFIX}{line.response_id}"
        now = rt.clock()
        with rt.db.session_for_update() as s:
            if s.scalar(select(Invitation.id).where(Invitation.order_id == order)) is not None:
                report.unchanged += 1
                continue
            survey = history_survey(s, survey_key, "cli", now)
            contact: Contact | None = None
            if line.customer is not None:
                contact, _ = upsert_contact(
                    s, line.customer, now, rt.settings.default_language, "csv"
                )
            new = NewResponse(line.score, line.comment, line.at, line.properties)
            language = rt.settings.default_language
            record_response(s, survey, contact, new, language=language, order_id=order)
            report.created += 1
    return report

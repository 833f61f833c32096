"""`npsbot import purchases.csv`: the API's purchase, row by row, reporting each bad line.

A file is read as spreadsheets write it: UTF-8 (with or without a BOM), else Windows-1252
(Excel's "CSV" on Windows); `,`, `;` or tab between cells; dates in ISO 8601 or
DD/MM/YYYY / MM/DD/YYYY (with an optional HH:MM), day-first where the file's locale says so.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.runtime import Runtime
from bot.survey.customers import parse_customer, upsert_contact
from bot.survey.fields import Invalid
from bot.survey.purchases import Conflict, parse_purchase, register_purchase

CUSTOMER = {
    "customer_id": "id",
    "name": "name",
    "phone": "phone",
    "telegram_chat_id": "telegram_chat_id",
    "sandbox": "sandbox",
    "language": "language",
    "timezone": "timezone",
}
TOP = ("order_id", "survey", "occurred_at", "delay_minutes", "channels")
META = "metadata."
DELIMITERS = ",;\t"
# The header and the first lines: enough for the separator to show, cheap on a large file.
SNIFFED_LINES = 20
# Languages whose spreadsheets write the day first (01/12/2026 is 1 December).
DAY_FIRST_LANGUAGES = ("es", "pt")
# 01/12/2026, 1.12.2026, 01-12-2026, optionally followed by 14:30 or 14:30:15.
NUMERIC_DATE = re.compile(
    r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?"
)


class FileError(ValueError):
    """A file that cannot be imported at all: its message names the file and the line."""


@dataclass
class Table:
    """A CSV file decoded and split: the rows by line number, and how it was read."""

    rows: list[tuple[int, dict[str, str]]]
    encoding: str
    delimiter: str
    ignored: list[str]  # unknown columns, left out
    day_first: bool
    order_reason: str  # why day-first or month-first


@dataclass
class Report:
    created: int = 0
    unchanged: int = 0
    skipped: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)
    ambiguous: list[tuple[int, str]] = field(default_factory=list)  # (line, date as written)


def decode(data: bytes) -> tuple[str, str]:
    """The text and the encoding it was read with: UTF-8 (a BOM is dropped), else cp1252.
    Latin-1 is the fallback for the five bytes cp1252 leaves undefined; it reads any byte."""
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return text, "UTF-8" if encoding == "utf-8-sig" else encoding
    raise AssertionError("latin-1 decodes every byte")  # pragma: no cover


def sniff_delimiter(sample: str) -> str:
    """`,`, `;` or tab: the one the header and the first lines are split by consistently (a
    header alone can mislead: "Peña, José" in a ';' file); `,` for a one-column file."""
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        header = sample.partition("\n")[0]
        best = max(DELIMITERS, key=header.count)
        return best if header.count(best) else ","


def choose_order(delimiter: str, languages: list[str], option: bool | None) -> tuple[bool, str]:
    """Day-first (True) or month-first, and why: the option, else the file's locale."""
    if option is not None:
        return option, "as asked"
    if delimiter == ";":
        return True, "the file is ';'-separated, as spreadsheets in day-first locales write"
    counts = Counter(lang[:2].lower() for lang in languages if lang.strip())
    day_first = sum(counts[lang] for lang in DAY_FIRST_LANGUAGES)
    if counts and day_first * 2 > sum(counts.values()):
        return True, "most customers' language is es or pt"
    return False, "neither a ';' separator nor es/pt languages suggest day-first"


def parse_date(raw: str, day_first: bool, timezone: str | None) -> tuple[str, bool]:
    """An RFC 3339 date-time for a spreadsheet's date, and whether it was ambiguous (both
    readings valid and different). A date with no offset is in the customer's time zone, else
    UTC. ValueError names what is wrong."""
    raw = raw.strip()
    zone = _zone(timezone)
    match = NUMERIC_DATE.fullmatch(raw)
    if match is None:
        try:
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"{raw!r} is not a date (write 2026-12-01, 01/12/2026 or 01/12/2026 14:30)"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        return moment.isoformat(), False
    first, second, year, hour, minute, sec = (int(g) if g else 0 for g in match.groups())
    day, month = (first, second) if day_first else (second, first)
    try:
        moment = datetime(year, month, day, hour, minute, sec, tzinfo=zone)
    except ValueError:
        order = "DD/MM/YYYY" if day_first else "MM/DD/YYYY"
        other = "--month-first" if day_first else "--day-first"
        raise ValueError(f"{raw!r} is not a date read as {order} (try {other})") from None
    ambiguous = first != second and first <= 12 and second <= 12
    return moment.isoformat(), ambiguous


def _zone(name: str | None) -> tzinfo:
    if name and name.strip():
        try:
            return ZoneInfo(name.strip())
        except (ZoneInfoNotFoundError, ValueError):
            pass  # parse_purchase names the bad time zone
    return UTC


def purchase_column(name: str) -> bool:
    return name in CUSTOMER or name in TOP or name.startswith(META)


def read_table(
    path: Path,
    day_first: bool | None = None,
    required: str = "order_id",
    known: Callable[[str], bool] = purchase_column,
) -> Table:
    """The file decoded and split; FileError names the file and line 1 for a bad header."""
    try:
        text, encoding = decode(path.read_bytes())
    except OSError as exc:
        raise FileError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise FileError(f"{path}: line 1: the file is empty (a header line is required)")
    delimiter = sniff_delimiter("\n".join(lines[:SNIFFED_LINES]))
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    fields = [(name or "").strip() for name in reader.fieldnames or ()]
    reader.fieldnames = fields
    if required not in fields:
        sep = {"\t": "tab"}.get(delimiter, repr(delimiter))
        raise FileError(
            f"{path}: line 1: missing column {required} (header read as {sep}-separated: "
            f"{', '.join(repr(f) for f in fields)})"
        )
    ignored = [f for f in fields if not known(f)]
    try:
        rows = [(reader.line_num, row) for row in reader]
    except csv.Error as exc:
        raise FileError(f"{path}: line {reader.line_num}: {exc}") from exc
    languages = [row.get("language") or "" for _, row in rows]
    order, reason = choose_order(delimiter, languages, day_first)
    return Table(rows, encoding, delimiter, ignored, order, reason)


def row_to_request(row: dict[str, str]) -> dict[str, Any]:
    """A CSV row in the API's JSON shape (empty cells and unknown columns are absent)."""
    body: dict[str, Any] = {}
    for key in TOP:
        value = (row.get(key) or "").strip()
        if not value:
            continue
        if key == "delay_minutes":
            body[key] = int(value) if value.isdigit() else value
        elif key == "channels":
            body[key] = [c for c in value.replace(";", " ").replace(",", " ").split() if c]
        else:
            body[key] = value
    body["customer"] = {
        api: (row.get(col) or "").strip()
        for col, api in CUSTOMER.items()
        if (row.get(col) or "").strip()
    }
    meta = {k[len(META) :]: v for k, v in row.items() if k and k.startswith(META) and v}
    if meta:
        body["metadata"] = meta
    return body


def import_purchases(
    rt: Runtime, table: Table, progress: Callable[[int], None] = lambda _n: None
) -> Report:
    report = Report()
    for line, row in table.rows:
        body = row_to_request(row)
        if "occurred_at" in body:
            try:
                when, ambiguous = parse_date(
                    body["occurred_at"], table.day_first, body["customer"].get("timezone")
                )
            except ValueError as exc:
                report.errors.append((line, f"occurred_at: {exc}"))
                progress(1)
                continue
            if ambiguous:
                report.ambiguous.append((line, body["occurred_at"]))
            body["occurred_at"] = when
        try:
            outcome = register_purchase(
                rt, parse_purchase(body, country=rt.settings.default_country)
            )
        except Invalid as exc:
            report.errors.append((line, f"{exc.field}: {exc.reason}"))
        except Conflict as exc:
            report.errors.append((line, str(exc)))
        else:
            if not outcome.created:
                report.unchanged += 1
            elif outcome.invitation.state == "skipped":
                report.skipped += 1
            else:
                report.created += 1
        progress(1)
    return report


# `npsbot contacts import`: the same file handling, a contact per line.
ATTRIBUTE = "attribute."
CONSENT = "consent."
CONSENT_EXTRA = ("consent_source", "consent_at")
YES = {"1", "y", "yes", "true", "si", "sí", "s", "sim", "x"}
NO = {"0", "n", "no", "false", "não", "nao"}


def contact_column(name: str) -> bool:
    return (
        name in CUSTOMER
        or name in CONSENT_EXTRA
        or name.startswith(ATTRIBUTE)
        or name.startswith(CONSENT)
    ) and name != "sandbox"


def contact_row(row: dict[str, str], day_first: bool) -> tuple[dict[str, Any], bool]:
    """A CSV line in the contacts API's shape, and whether its consent date was ambiguous.
    Invalid names the cell that cannot be read."""
    cell = {k: (v or "").strip() for k, v in row.items() if k}
    body: dict[str, Any] = {
        api: cell[col]
        for col, api in CUSTOMER.items()
        if cell.get(col) and col != "sandbox" and api != "id"
    }
    attributes = {k[len(ATTRIBUTE) :]: v for k, v in cell.items() if k.startswith(ATTRIBUTE) and v}
    if attributes:
        body["attributes"] = attributes
    ambiguous = False
    when = None
    if cell.get("consent_at"):
        try:
            when, ambiguous = parse_date(cell["consent_at"], day_first, cell.get("timezone"))
        except ValueError as exc:
            raise Invalid("consent_at", str(exc)) from exc
    consent: dict[str, Any] = {}
    for key, value in cell.items():
        if not key.startswith(CONSENT) or not value:
            continue
        answer = value.lower()
        if answer not in YES | NO:
            raise Invalid(key, f"{value!r} is not yes or no")
        grant: dict[str, Any] = {"given": answer in YES}
        if cell.get("consent_source"):
            grant["source"] = cell["consent_source"]
        if when:
            grant["at"] = when
        consent[key[len(CONSENT) :]] = grant
    if consent:
        body["consent"] = consent
    return body, ambiguous


def import_contacts(
    rt: Runtime, table: Table, progress: Callable[[int], None] = lambda _n: None
) -> Report:
    """Each line through the contacts API's own checks and upsert (`bot.survey.customers`);
    `created` counts new contacts, `unchanged` updated ones."""
    report = Report()
    for line, row in table.rows:
        contact_id = (row.get("customer_id") or "").strip()
        try:
            if not contact_id:
                raise Invalid("customer_id", "is required")
            body, ambiguous = contact_row(row, table.day_first)
            if ambiguous:
                report.ambiguous.append((line, row.get("consent_at") or ""))
            customer = parse_customer(
                {**body, "id": contact_id}, "", country=rt.settings.default_country
            )
            with rt.db.session_for_update() as s:
                _contact, created = upsert_contact(
                    s,
                    customer,
                    rt.clock(),
                    rt.settings.default_language,
                    "csv",
                    "",
                    by_id_only=True,
                )
        except Invalid as exc:
            report.errors.append((line, f"{exc.field}: {exc.reason}"))
        else:
            if created:
                report.created += 1
            else:
                report.unchanged += 1
        progress(1)
    return report

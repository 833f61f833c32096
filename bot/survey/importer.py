"""`npsbot import purchases.csv`: the API's purchase, row by row, reporting each bad line."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.runtime import Runtime
from bot.survey.purchases import Conflict, Invalid, parse_purchase, register_purchase

CUSTOMER = {
    "customer_id": "id",
    "name": "name",
    "phone": "phone",
    "telegram_chat_id": "telegram_chat_id",
    "language": "language",
    "timezone": "timezone",
}
TOP = ("order_id", "survey", "occurred_at", "delay_minutes", "channels")
META = "metadata."


@dataclass
class Report:
    created: int = 0
    unchanged: int = 0
    skipped: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)


def row_to_request(row: dict[str, str]) -> dict[str, Any]:
    """A CSV row in the API's JSON shape (empty cells are absent)."""
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
        api: row[col].strip() for col, api in CUSTOMER.items() if (row.get(col) or "").strip()
    }
    meta = {k[len(META) :]: v for k, v in row.items() if k and k.startswith(META) and v}
    if meta:
        body["metadata"] = meta
    return body


def rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = {"order_id"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: line 1: missing column(s) {', '.join(sorted(missing))}")
        unknown = [
            c
            for c in reader.fieldnames or ()
            if c not in CUSTOMER and c not in TOP and not c.startswith(META)
        ]
        if unknown:
            raise ValueError(f"{path}: line 1: unknown column(s) {', '.join(unknown)}")
        for row in reader:
            yield reader.line_num, row


def import_purchases(
    rt: Runtime, path: Path, progress: Callable[[int], None] = lambda _n: None
) -> Report:
    report = Report()
    for line, row in rows(path):
        try:
            outcome = register_purchase(
                rt, parse_purchase(row_to_request(row), country=rt.settings.default_country)
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

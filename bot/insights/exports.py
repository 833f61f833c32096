"""`npsbot report` (tables and a sparkline in the terminal) and `npsbot export` (CSV / XLSX).

Both use the same `bot.insights` queries and filters as the reporting API. An export is an
audit row (`export.responses`: the format, the rows, the filters; `record_export`).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from bot.insights import filters, lists, reports
from bot.storage.audit import By, record

COLUMNS = (
    "id",
    "scored_at",
    "survey",
    "channel",
    "language",
    "score",
    "category",
    "comment",
    "themes",
    "sentiment",
    "late",
    "order_id",
    "metadata",
    "case_status",
    "case_assignee",
)
BATCH = 500
# OWASP's CSV-injection rule: a spreadsheet runs a cell starting with one of these as a formula
# (https://owasp.org/www-community/attacks/CSV_Injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _fmt(x: float | None, spec: str = "+.1f") -> str:
    return "—" if x is None else format(x, spec)


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    for r in rows:
        cells = [
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        out.append("  ".join(cells))
    return out


def render_report(s: Session, f: filters.Filters, interval: str = "week") -> str:
    """The terminal report: NPS now, trend with a sparkline, distribution, breakdowns, themes."""
    rep = reports.nps_report(s, f)
    tr = reports.trend(s, f, interval)
    lines: list[str] = []
    applied = {k: v for k, v in f.to_dict().items() if v not in (None, [], {})}
    lines.append("Filters: " + (", ".join(f"{k}={v}" for k, v in applied.items()) or "none"))
    if rep["nps"] is None:
        lines.append("NPS: no answers match these filters.")
    else:
        lines.append(
            f"NPS {rep['nps']:+.1f} ± {rep['margin_of_error']:.1f} (95 %), "
            f"{rep['responses']} answers: {rep['promoters']} promoters "
            f"({rep['promoter_share']:.0%}), {rep['passives']} passives "
            f"({rep['passive_share']:.0%}), {rep['detractors']} detractors "
            f"({rep['detractor_share']:.0%})"
        )
    rate = rep["response_rate"]
    lines.append(
        f"Response rate: {'—' if rate is None else f'{rate:.0%}'} "
        f"({rep['answered']} answered / {rep['delivered']} delivered)"
    )
    points = tr["points"]
    if points:
        spark = reports.sparkline([p["nps"] for p in points])
        lines += ["", f"Trend by {interval}: {spark}"]
        rows = [
            [p["period"], _fmt(p["nps"]), _fmt(p["margin_of_error"], ".1f"), str(p["responses"])]
            for p in points[-12:]
        ]
        lines += _table([interval, "NPS", "±", "answers"], rows)
        ch = tr["change"]
        if ch and ch["change"] is not None:
            verdict = "significant" if ch["significant"] else "not significant"
            lines.append(
                f"Last change: {ch['change']:+.1f} ± {ch['margin']:.1f} points "
                f"(p = {ch['p_value']:.3f}, {verdict})"
            )
    dist = rep["distribution"]
    top = max(dist) or 1
    lines += ["", "Scores 0–10:"]
    for score, n in enumerate(dist):
        lines.append(f"  {score:>2} {'█' * round(30 * n / top):<30} {n}")
    for by in ("channel", "survey"):
        groups = reports.breakdown(s, f, by)
        if groups:
            lines += ["", f"By {by}:"]
            lines += _table(
                [by, "NPS", "±", "answers"],
                [
                    [
                        g["value"],
                        _fmt(g["nps"]),
                        _fmt(g["margin_of_error"], ".1f"),
                        str(g["responses"]),
                    ]
                    for g in groups[:10]
                ],
            )
    th = reports.themes(s, f)
    for cat in ("detractor", "promoter"):
        top_t = reports.top_themes(th, cat)
        if top_t:
            lines += ["", f"Top themes among {cat}s:"]
            lines += [f"  {t['theme']}: {t[cat + 's']}" for t in top_t]
    return "\n".join(lines)


def neutralise(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula, prefixed with `'` so it stays text.

    The one rule for every export (CSV, XLSX): a customer writes the comments. Numbers, dates
    and None pass unchanged.
    """
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def iter_rows(s: Session, f: filters.Filters) -> Iterator[dict[str, Any]]:
    """Every response matching `f`, newest first, fetched in pages."""
    cursor: str | None = None
    while True:
        page = lists.responses(s, f, limit=BATCH, cursor=cursor)
        for item in page.items:
            case = item["case"] or {}
            yield {
                **{k: item.get(k) for k in COLUMNS},
                "themes": ";".join(item["themes"]),
                "metadata": json.dumps(item["metadata"], ensure_ascii=False, sort_keys=True),
                "case_status": case.get("status"),
                "case_assignee": case.get("assignee"),
            }
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


class ExportError(ValueError):
    pass


def export_responses(s: Session, f: filters.Filters, path: str | Path) -> int:
    """Write the responses to `path` (.csv or .xlsx); the number of rows written."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        n = 0
        with path.open("w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=COLUMNS)
            w.writeheader()
            for row in iter_rows(s, f):
                w.writerow({c: neutralise(v) for c, v in row.items()})
                n += 1
        return n
    if suffix == ".xlsx":
        try:
            from openpyxl import Workbook  # type: ignore[import-untyped]
        except ImportError:  # pragma: no cover - a dependency of the project
            raise ExportError("xlsx needs openpyxl: pip install openpyxl") from None
        wb = Workbook(write_only=True)
        ws = wb.create_sheet("responses")
        ws.append(list(COLUMNS))
        n = 0
        for row in iter_rows(s, f):
            values = [neutralise(row[c]) for c in COLUMNS]
            values[1] = datetime.fromisoformat(values[1].replace("Z", "+00:00")).replace(
                tzinfo=None
            )
            ws.append(values)
            n += 1
        wb.save(path)
        return n
    raise ExportError(f"{path.name}: the file name must end in .csv or .xlsx")


def record_export(
    s: Session, by: By, now: datetime, f: filters.Filters, path: str | Path, rows: int
) -> None:
    """The audit row of an export that was written (in its own short write transaction: the
    export itself only reads)."""
    applied = {k: v for k, v in f.to_dict().items() if v not in (None, [], {})}
    record(
        s,
        at=now,
        actor=by.actor,
        action="export.responses",
        target=None,
        source=by.source,
        format=Path(path).suffix.lower().lstrip("."),
        rows=rows,
        filters=applied,
    )

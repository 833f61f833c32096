"""Survey definitions in the database (the definitions themselves: `bot.definitions`).

Only `npsbot surveys sync FILE` changes them (after showing the difference); start-up only
creates the file's surveys in a database that has none, so a first run works."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.definitions import SurveyDef
from bot.storage.models import Survey


@dataclass(frozen=True)
class Change:
    key: str
    status: str  # "added", "changed" or "unchanged"
    fields: tuple[str, ...] = ()


def _values(d: SurveyDef) -> dict[str, Any]:
    values = asdict(d)
    values["channels"] = list(d.channels)
    values["texts"] = {k: dict(v) for k, v in d.texts.items()}
    values["options"] = dict(d.options)
    return values


def diff_surveys(session: Session, defs: list[SurveyDef]) -> list[Change]:
    """What `sync_surveys(defs)` would do, survey by survey, field by field."""
    existing = {s.key: s for s in session.scalars(select(Survey))}
    out: list[Change] = []
    for d in defs:
        row = existing.get(d.key)
        if row is None:
            out.append(Change(d.key, "added"))
            continue
        changed = tuple(k for k, v in _values(d).items() if getattr(row, k, None) != v)
        out.append(Change(d.key, "changed" if changed else "unchanged", changed))
    return out


def sync_surveys(session: Session, defs: list[SurveyDef]) -> None:
    """Create or update each defined survey by key (surveys no longer in the file stay, unused)."""
    existing = {s.key: s for s in session.scalars(select(Survey))}
    for d in defs:
        row = existing.get(d.key) or Survey(key=d.key)
        for k, v in _values(d).items():
            if getattr(row, k, None) != v:
                setattr(row, k, v)
        session.add(row)


def create_if_empty(session: Session, defs: list[SurveyDef]) -> bool:
    """A first run: a database with no survey at all gets DEFS. True if it did."""
    if session.scalars(select(Survey.id).limit(1)).first() is not None:
        return False
    sync_surveys(session, defs)
    return True


def stored_surveys(session: Session) -> list[dict[str, Any]]:
    """What the database holds, survey by survey, as the file would spell it."""
    keys = ("key", *(k for k in SurveyDef.__dataclass_fields__ if k != "key"))
    return [
        {k: getattr(row, k, None) for k in keys}
        for row in session.scalars(select(Survey).order_by(Survey.key))
    ]

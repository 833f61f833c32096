"""Survey definitions synced to the database (the definitions themselves: `bot.definitions`)."""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.definitions import SurveyDef
from bot.storage.models import Survey


def sync_surveys(session: Session, defs: list[SurveyDef]) -> None:
    """Create or update each defined survey by key (surveys no longer in the file stay, unused)."""
    existing = {s.key: s for s in session.scalars(select(Survey))}
    for d in defs:
        row = existing.get(d.key) or Survey(key=d.key)
        values = asdict(d)
        values["channels"] = list(d.channels)
        values["texts"] = {k: dict(v) for k, v in d.texts.items()}
        values["options"] = dict(d.options)
        for k, v in values.items():
            if getattr(row, k, None) != v:
                setattr(row, k, v)
        session.add(row)

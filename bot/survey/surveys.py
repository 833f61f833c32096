"""Survey definitions in the database (the definitions and their validation: `bot.definitions`).

Two writers, both through `bot.definitions.check_survey`: an owner in the dashboard
(`save_survey`) and `npsbot surveys import FILE` (`sync_surveys`, after showing the difference).
Start-up only creates SURVEYS_FILE's surveys in a database that has none, so a first run works.
`export_toml` writes what the database holds as a file `import` reads back unchanged. Both
writers leave an audit row per survey changed (`survey.create`, `survey.edit`: the changed
fields' names, never their texts)."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import tomli_w
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.definitions import Reason, SurveyDef, SurveyInvalid, check_survey, survey_table
from bot.storage.audit import By, record
from bot.storage.models import Survey

log = logging.getLogger(__name__)


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


def _changed(row: Survey, d: SurveyDef) -> tuple[str, ...]:
    return tuple(k for k, v in _values(d).items() if getattr(row, k, None) != v)


def _write(row: Survey, d: SurveyDef, actor: str, now: datetime | None) -> tuple[str, ...]:
    changed = _changed(row, d)
    for k, v in _values(d).items():
        if getattr(row, k, None) != v:
            setattr(row, k, v)
    if changed:
        row.updated_by = actor
        if now is not None:
            row.updated_at = now
        log.info("survey %s changed by %s: %s", d.key, actor, ", ".join(changed))
    return changed


def diff_surveys(session: Session, defs: list[SurveyDef]) -> list[Change]:
    """What `sync_surveys(defs)` would do, survey by survey, field by field."""
    existing = {s.key: s for s in session.scalars(select(Survey))}
    out: list[Change] = []
    for d in defs:
        row = existing.get(d.key)
        if row is None:
            out.append(Change(d.key, "added"))
            continue
        changed = _changed(row, d)
        out.append(Change(d.key, "changed" if changed else "unchanged", changed))
    return out


def _audit(s: Session, by: By, now: datetime, key: str, new: bool, fields: tuple[str, ...]) -> None:
    if new or fields:
        action = "survey.create" if new else "survey.edit"
        record(
            s,
            at=now,
            actor=by.actor,
            action=action,
            target=f"survey:{key}",
            source=by.source,
            fields=list(fields),
        )


def sync_surveys(
    session: Session,
    defs: list[SurveyDef],
    actor: str = "cli:import",
    *,
    by: By | None = None,
    now: datetime | None = None,
) -> None:
    """Create or update each defined survey by key (surveys no longer in the file stay, unused).
    With `by` and `now` (`npsbot surveys import`) each change is audited; the start-up's first
    seeding is no one's action."""
    existing = {s.key: s for s in session.scalars(select(Survey))}
    for d in defs:
        row = existing.get(d.key) or Survey(key=d.key)
        changed = _write(row, d, actor, None)
        if by is not None and now is not None:
            _audit(session, by, now, d.key, d.key not in existing, changed)
        session.add(row)


def save_survey(
    s: Session,
    key: str,
    values: dict[str, Any],
    actor: str,
    now: datetime,
    *,
    new: bool = False,
    source: str | None = None,
) -> tuple[str, ...]:
    """An owner's edit (or a new survey when `new`): VALUES as the file spells a survey, without
    its key. Raises `SurveyInvalid` naming each refused field, KeyError for an unknown survey.
    Returns the fields that changed. Call inside `session_for_update`."""
    d = check_survey({"key": key, **values})
    row = s.scalar(select(Survey).where(Survey.key == key))
    if new and row is not None:
        raise SurveyInvalid({"key": Reason("exists")})
    if row is None:
        if not new:
            raise KeyError(key)
        row = Survey(key=key, created_at=now)
        s.add(row)
    changed = _write(row, d, actor, now)
    _audit(s, By(actor, source), now, key, new, changed)
    return changed


def create_if_empty(session: Session, defs: list[SurveyDef]) -> bool:
    """A first run: a database with no survey at all gets DEFS. True if it did."""
    if session.scalars(select(Survey.id).limit(1)).first() is not None:
        return False
    sync_surveys(session, defs, "start-up")
    return True


def definition(row: Survey) -> SurveyDef:
    """A stored survey as a definition."""
    return SurveyDef(
        key=row.key,
        name=row.name,
        delay_minutes=row.delay_minutes,
        resurvey_days=row.resurvey_days,
        reminder_hours=row.reminder_hours,
        expiry_hours=row.expiry_hours,
        channels=tuple(row.channels or ()),
        texts=row.texts or {},
        options=row.options or {},
    )


def survey_options(session: Session) -> list[dict[str, Any]]:
    """Every stored survey's options (alert routes: who may act on cases, where alerts go), read
    from the database: an edit applies at once, SURVEYS_FILE only seeded it."""
    return [dict(o or {}) for o in session.scalars(select(Survey.options).order_by(Survey.key))]


def survey_rows(session: Session) -> list[Survey]:
    return list(session.scalars(select(Survey).order_by(Survey.key)))


def export_toml(session: Session) -> str:
    """Every stored survey as a surveys file (`import` reads it back unchanged)."""
    tables = [survey_table(definition(row)) for row in survey_rows(session)]
    return tomli_w.dumps({"survey": tables})


def stored_surveys(session: Session) -> list[dict[str, Any]]:
    """What the database holds, survey by survey, as the file would spell it."""
    keys = ("key", *(k for k in SurveyDef.__dataclass_fields__ if k != "key"))
    return [{k: getattr(row, k, None) for k in keys} for row in survey_rows(session)]

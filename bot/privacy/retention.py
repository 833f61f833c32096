"""Retention: personal data older than its RETENTION_*_DAYS setting is removed, daily, by the
worker; `npsbot retention preview` shows what the next run removes. One copy of the rule: each
kind's `candidates` query is what the preview counts and what the run removes.

Scores, categories, themes and the insights rollup are never touched: NPS reports read the same
numbers before and after a run. Each kind is removed in batches of BATCH rows per transaction
(claimed with SKIP LOCKED on PostgreSQL, so two workers split the work instead of repeating it),
at most PER_RUN rows per kind and run; what is left waits for the next day's run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, exists, func, or_, select, update
from sqlalchemy.orm import Session

from bot.config import Settings
from bot.privacy.erasure import erase_contact
from bot.runtime import Runtime
from bot.storage import audit
from bot.storage.db import Database
from bot.storage.hooks import drop_orphan_events
from bot.storage.messages import forget_texts
from bot.storage.models import (
    Alert,
    AlertState,
    AuditEvent,
    Case,
    CaseStatus,
    Contact,
    DeliveryState,
    Invitation,
    Message,
    Response,
    WebhookDelivery,
)

BATCH = 500  # rows per transaction: short locks, bounded memory
CONTACT_BATCH = 50  # an erasure touches many rows per contact
PER_RUN = 50_000  # per kind and run: a first run over years of data spreads over days
ACTOR = "retention"
RUN = "retention.run"
# One worker runs the day (PostgreSQL advisory lock; the number only has to be npsbot's own).
LOCK_KEY = 8_000_020
# A digest's alert row is its "sent once" marker for the period just ended (a week at most):
# removed before then, the digest would be queued again.
DIGEST_GUARD = timedelta(days=8)


@dataclass(frozen=True)
class Part:
    """One table's share of a kind: the rows past `cutoff` (`candidates`: id, date) and what
    removing a batch of them means (`remove`)."""

    candidates: Callable[[datetime, datetime], Select[int, datetime]]  # (cutoff, now)
    remove: Callable[[Session, list[int], datetime, datetime], None]  # (s, ids, cutoff, now)
    batch: int | None = None  # rows per transaction; None: BATCH


@dataclass(frozen=True)
class Kind:
    name: str  # as in the preview and the audit row
    setting: str  # the Settings field: days, 0 = keep forever
    what: str  # the preview's one-line description
    parts: tuple[Part, ...]


# --- messages: texts and payloads scrubbed; rows kept (idempotency, delivery statistics) ------


def _messages(cutoff: datetime, now: datetime) -> Select[int, datetime]:
    return select(Message.id, Message.created_at).where(
        Message.created_at < cutoff,
        or_(Message.text != "", Message.payload != {}),
        # The outbox still needs a waiting reply's payload to send it.
        or_(Message.status.is_(None), Message.status.not_in(("queued", "sending"))),
    )


def _scrub_messages(s: Session, ids: list[int], cutoff: datetime, now: datetime) -> None:
    forget_texts(s, ids)


# --- comments: the customer's words go; score, category, themes and sentiment stay ------------


def _comments(cutoff: datetime, now: datetime) -> Select[int, datetime]:
    at = func.coalesce(Response.commented_at, Response.scored_at)
    return select(Response.id, at).where(Response.comment.is_not(None), at < cutoff)


def _drop_comments(s: Session, ids: list[int], cutoff: datetime, now: datetime) -> None:
    # `updated_at` kept as it is: the rollup rebuilds a day whose responses changed, and the
    # comment is in no aggregate.
    s.execute(
        update(Response)
        .where(Response.id.in_(ids))
        .values(comment=None, updated_at=Response.updated_at)
        .execution_options(synchronize_session=False)
    )


# --- contacts with no activity: erased as a customer's request would (`erase_contact`) --------


def _inactive(cutoff: datetime, now: datetime) -> Select[int, datetime]:
    message = exists().where(Message.contact_id == Contact.id, Message.created_at >= cutoff)
    # A response is reached through its invitation (responses.invitation_id is unique, hence
    # indexed): an old invitation may have been answered late.
    answered = exists().where(
        Response.invitation_id == Invitation.id,
        or_(Response.scored_at >= cutoff, Response.commented_at >= cutoff),
    )
    invitation = exists().where(
        Invitation.contact_id == Contact.id,
        or_(
            Invitation.created_at >= cutoff,
            Invitation.due_at >= cutoff,  # a survey still to come
            Invitation.sent_at >= cutoff,
            answered,
        ),
    )
    return select(Contact.id, Contact.created_at).where(
        Contact.created_at < cutoff, ~message, ~invitation
    )


def _erase_contacts(s: Session, ids: list[int], cutoff: datetime, now: datetime) -> None:
    for contact_id in ids:
        erase_contact(s, contact_id, at=now, actor=ACTOR)


# --- cases: resolved ones deleted with their events (and alerts, by the foreign keys) ---------


def _resolved_cases(cutoff: datetime, now: datetime) -> Select[int, datetime]:
    resolved = func.coalesce(Case.resolved_at, Case.created_at)
    return select(Case.id, resolved).where(Case.status == CaseStatus.RESOLVED, resolved < cutoff)


def _delete_cases(s: Session, ids: list[int], cutoff: datetime, now: datetime) -> None:
    s.execute(delete(Case).where(Case.id.in_(ids)).execution_options(synchronize_session=False))


# --- deliveries: records of what was sent where ----------------------------------------------


@dataclass(frozen=True)
class DeliveryLog:
    """A table of delivery records: finished rows (`done`) older than RETENTION_DELIVERIES_DAYS
    (by `at`) are deleted. Another module's log joins DELIVERY_LOGS in one line."""

    table: Any  # the model
    at: ColumnElement[datetime]
    done: Callable[[datetime], ColumnElement[bool]]  # (now) -> the finished rows it may remove
    # What goes with each batch (s, cutoff): e.g. the events no delivery refers to any more.
    then: Callable[[Session, datetime], object] | None = None


def _alerts_done(now: datetime) -> ColumnElement[bool]:
    resolved = select(Case.id).where(Case.status == CaseStatus.RESOLVED)
    return Alert.state.in_((AlertState.SENT, AlertState.FAILED)) & or_(
        # An open case's cards are still edited and its escalation reads its alerts: kept.
        Alert.case_id.in_(resolved),
        Alert.case_id.is_(None) & (Alert.created_at < now - DIGEST_GUARD),
    )


# The delivery logs retention prunes: staff alerts (sent or failed; those of open cases and
# digests younger than DIGEST_GUARD stay, see `_alerts_done`) and the outbound webhooks'
# finished deliveries, with the events no delivery refers to any more.
DELIVERY_LOGS: list[DeliveryLog] = [
    DeliveryLog(Alert, func.coalesce(Alert.sent_at, Alert.created_at), _alerts_done),
    DeliveryLog(
        WebhookDelivery,
        WebhookDelivery.created_at.expression,
        lambda now: WebhookDelivery.state.in_((DeliveryState.DELIVERED, DeliveryState.FAILED)),
        then=drop_orphan_events,
    ),
]


def _log_part(log: DeliveryLog) -> Part:
    pk = log.table.id

    def candidates(cutoff: datetime, now: datetime) -> Select[int, datetime]:
        return select(pk, log.at).where(log.at < cutoff, log.done(now))

    def remove(s: Session, ids: list[int], cutoff: datetime, now: datetime) -> None:
        s.execute(delete(log.table).where(pk.in_(ids)).execution_options(synchronize_session=False))
        if log.then is not None:
            log.then(s, cutoff)

    return Part(candidates, remove)


def kinds() -> tuple[Kind, ...]:
    return (
        Kind(
            "messages",
            "retention_messages_days",
            "message texts and payloads scrubbed",
            (Part(_messages, _scrub_messages),),
        ),
        Kind(
            "comments",
            "retention_comments_days",
            "response comments removed (scores and themes kept)",
            (Part(_comments, _drop_comments),),
        ),
        Kind(
            "contacts",
            "retention_contacts_days",
            "contacts with no activity erased",
            (Part(_inactive, _erase_contacts, CONTACT_BATCH),),
        ),
        Kind(
            "cases",
            "retention_cases_days",
            "resolved cases deleted with their events",
            (Part(_resolved_cases, _delete_cases),),
        ),
        Kind(
            "deliveries",
            "retention_deliveries_days",
            "delivery records deleted",
            tuple(_log_part(log) for log in DELIVERY_LOGS),
        ),
    )


def limits(settings: Settings) -> list[tuple[Kind, int]]:
    """The kinds with a limit set, and their days (0: kept forever, left out)."""
    return [(k, days) for k in kinds() if (days := int(getattr(settings, k.setting))) > 0]


@dataclass(frozen=True)
class Planned:
    """What the next run removes of one kind."""

    kind: str
    what: str
    days: int
    cutoff: datetime  # older than this
    count: int  # this run's rows (at most PER_RUN per table)
    oldest: datetime | None  # the oldest row's date
    more: bool  # past PER_RUN: the rest goes in the following days' runs


def plan(s: Session, settings: Settings, now: datetime) -> list[Planned]:
    """Per kind with a limit, what a run at `now` removes: the preview, and the run's audit."""
    out: list[Planned] = []
    for kind, days in limits(settings):
        cutoff = now - timedelta(days=days)
        count, oldest, more = 0, None, False
        for part in kind.parts:
            rows = part.candidates(cutoff, now).subquery()
            n, first = s.execute(select(func.count(), func.min(rows.c[1]))).one()
            count += min(n, PER_RUN)
            more = more or n > PER_RUN
            if first is not None and (oldest is None or first < oldest):
                oldest = first
        out.append(Planned(kind.name, kind.what, days, cutoff, count, oldest, more))
    return out


def _batch(
    db: Database, part: Part, cutoff: datetime, now: datetime, size: int, after: int
) -> list[int]:
    """Remove the next `size` rows of `part` with an id above `after` (the previous batch's
    last: each batch starts where the last one ended, not at the first row); their ids."""
    with db.session_for_update() as s:
        stmt = part.candidates(cutoff, now)
        pk = stmt.selected_columns[0]
        stmt = stmt.where(pk > after).order_by(pk).limit(size)
        if db.postgres:  # another worker's batch is skipped, not waited for nor repeated
            stmt = stmt.with_for_update(skip_locked=True)
        ids = [row[0] for row in s.execute(stmt)]
        if ids:
            part.remove(s, ids, cutoff, now)
        return ids


def enforce(db: Database, settings: Settings, now: datetime) -> dict[str, int]:
    """Remove what `plan` counts, in batches (one transaction each); rows removed per kind."""
    removed: dict[str, int] = {}
    for kind, days in limits(settings):
        cutoff = now - timedelta(days=days)
        total = 0
        for part in kind.parts:
            done, after = 0, 0
            while done < PER_RUN:
                size = min(part.batch or BATCH, PER_RUN - done)
                ids = _batch(db, part, cutoff, now, size, after)
                done += len(ids)
                if len(ids) < size:  # nothing more (or the rest is another worker's batch)
                    break
                after = ids[-1]
            total += done
        removed[kind.name] = total
    return removed


def run_daily(rt: Runtime, now: datetime) -> dict[str, int] | None:
    """The worker's daily run, by whichever worker claims today's first (its audit row,
    "retention.run", is the claim; its counts are added when it ends). None: nothing to
    enforce, or today's run is claimed already."""
    if not limits(rt.settings):
        return None
    today = datetime.combine(now.astimezone(UTC).date(), time(), UTC)
    with rt.db.session_for_update() as s:
        if rt.db.postgres:  # SQLite's writer lock already serialises this transaction
            s.execute(select(func.pg_advisory_xact_lock(LOCK_KEY)))
        ran = select(AuditEvent.id).where(AuditEvent.action == RUN, AuditEvent.at >= today)
        if s.scalar(ran.limit(1)) is not None:
            return None
        row = audit.record(s, at=now, actor=ACTOR, action=RUN, source="worker", state="running")
        s.flush()
        run_id = row.id
    removed = enforce(rt.db, rt.settings, now)
    with rt.db.session_for_update() as s:
        row = s.get_one(AuditEvent, run_id)
        row.detail = {"state": "done", **removed}
    if any(removed.values()):
        rt.db.truncate_wal()  # SQLite: the log's copies of the removed texts go too
    return removed


def preview_rows(plans: Sequence[Planned]) -> list[dict[str, Any]]:
    """The preview as JSON rows (`npsbot retention preview --json`)."""
    return [
        {
            "kind": p.kind,
            "what": p.what,
            "days": p.days,
            "before": p.cutoff.isoformat().replace("+00:00", "Z"),
            "count": p.count,
            "oldest": p.oldest.isoformat().replace("+00:00", "Z") if p.oldest else None,
            "more": p.more,
        }
        for p in plans
    ]

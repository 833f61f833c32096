"""Claiming a batch of due invitations under one lease, in one transaction.

The due invitations are locked (`FOR UPDATE SKIP LOCKED` on PostgreSQL, the writer lock on
SQLite) with their contacts; their surveys, their contacts' channels and the rules' facts for
all those contacts are read in a few set-based statements; the rules
(`bot.survey.rules`) decide in Python, and the decisions are written back in a few grouped
UPDATEs: the ones to send become `sending`, with one lease for the whole batch.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, case, func, select, update

from bot.runtime import Runtime
from bot.storage.models import Contact, Invitation, Survey
from bot.storage.models import InvitationState as S
from bot.survey.consent import granted
from bot.survey.rules import (
    IN_FLIGHT,
    History,
    contact_zone,
    needs_consent,
    outside_quiet_hours,
    present,
    send_quiet,
    skip_reason,
    unconsented,
)
from channels import registry
from scheduler.dispatch.plan import Batch, Job, SurveyRow
from scheduler.retry import lease_for

INV = cast(Table, Invitation.__table__)
CON = cast(Table, Contact.__table__)
SUR = cast(Table, Survey.__table__)


def _ids(name: str) -> Any:
    return bindparam(name, expanding=True)


def _claim(postgres: bool) -> Select[Any]:
    stmt = (
        select(
            INV.c.id,
            INV.c.survey_id,
            INV.c.language,
            INV.c.channels,
            INV.c.attempts,
            INV.c.sent_at,
            INV.c.link_token,
            INV.c.link_expires_at,
            CON.c.id,
            CON.c.name,
            CON.c.phone,
            CON.c.telegram_chat_id,
            CON.c.timezone,
        )
        .join_from(INV, CON, CON.c.id == INV.c.contact_id)
        .where(INV.c.state == S.SCHEDULED, INV.c.due_at <= bindparam("now"))
        .order_by(INV.c.due_at)
        .limit(bindparam("limit"))
    )
    # Only the invitations are locked; other workers skip them, not their contacts.
    return stmt.with_for_update(skip_locked=True, of=INV) if postgres else stmt


_CLAIM = {True: _claim(True), False: _claim(False)}
_SURVEYS = select(
    SUR.c.id, SUR.c.texts, SUR.c.options, SUR.c.resurvey_days, SUR.c.expiry_hours
).where(SUR.c.id.in_(_ids("surveys")))
# The rules' facts for every contact at once, from its invitations outside the batch.
_FACTS = (
    select(
        INV.c.contact_id,
        func.sum(case((INV.c.state.in_(IN_FLIGHT), 1), else_=0)),
        func.max(INV.c.sent_at),
    )
    .where(INV.c.contact_id.in_(_ids("contacts")), INV.c.id.not_in(_ids("ids")))
    .group_by(INV.c.contact_id)
)
_SKIPPED = (
    update(INV)
    .where(INV.c.id.in_(_ids("ids")))
    .values(
        state=S.SKIPPED,
        skip_reason=bindparam("reason"),
        lease_until=None,
        attempts=INV.c.attempts + 1,
    )
)
_DEFERRED = (
    update(INV)
    .where(INV.c.id == bindparam("b_id"))
    .values(due_at=bindparam("b_due"), lease_until=None)
)
_FAILED = (
    update(INV)
    .where(INV.c.id.in_(_ids("ids")))
    .values(
        state=S.FAILED,
        lease_until=None,
        attempts=INV.c.attempts + 1,
        last_error=func.coalesce(INV.c.last_error, "no configured, reachable channel"),
    )
)
# The channel is recorded before the send, so an `unknown` one says where it went.
_SENDING = (
    update(INV)
    .where(INV.c.id.in_(_ids("ids")))
    .values(
        state=S.SENDING,
        lease_until=bindparam("lease"),
        attempts=INV.c.attempts + 1,
        channel=bindparam("channel"),
    )
)


def claim_batch(rt: Runtime, now: datetime, limit: int) -> tuple[list[Job], Batch, int]:
    """Claim due invitations, apply the rules, choose channels: one transaction, a few set-based
    statements. Returns the invitations to send (state `sending`, under one lease), the batch's
    reads, and how many were claimed (sent, skipped, deferred or failed)."""
    batch = Batch(rt)
    with rt.db.session_for_update() as s:
        conn = s.connection()
        rows = conn.execute(_CLAIM[rt.db.postgres], {"now": now, "limit": limit}).all()
        if not rows:
            return [], batch, 0
        surveys = {
            r.id: SurveyRow(r.id, r.texts or {}, r.options or {}, r.resurvey_days, r.expiry_hours)
            for r in conn.execute(_SURVEYS, {"surveys": list({r[1] for r in rows})})
        }
        jobs = [_job(r, surveys[r[1]], now) for r in rows]
        contact_ids = list({j.contact_id for j in jobs})
        batch.load_channels(conn, contact_ids)
        # Consent is read only when a survey in the batch needs an opt-in on some channel.
        asking = {j.contact_id for j in jobs if needs_consent(j.survey.options)}
        consented = granted(conn, asking) if asking else {}
        # The batch's own invitations are added in Python as they are decided, in claim order.
        in_flight: dict[int, int] = {}
        last_sent: dict[int, list[tuple[int, datetime]]] = defaultdict(list)
        facts = {"contacts": contact_ids, "ids": [j.id for j in jobs]}
        for cid, count, last in conn.execute(_FACTS, facts):
            in_flight[cid] = int(count or 0)
            if last is not None:
                last_sent[cid].append((0, last))
        for j in jobs:
            in_flight[j.contact_id] = in_flight.get(j.contact_id, 0) + 1  # claimed: in flight
            if j.sent_at is not None:
                last_sent[j.contact_id].append((j.id, j.sent_at))

        lease_until = now + lease_for(rt)
        skipped: dict[str, list[int]] = defaultdict(list)
        deferred: list[dict[str, Any]] = []
        failed: list[int] = []
        sending: dict[str, list[int]] = defaultdict(list)
        to_send: list[Job] = []
        for j in jobs:
            cid = j.contact_id
            # The invitation's own earlier send (a resend after `unknown`) does not count.
            sends = [t for inv_id, t in last_sent.get(cid, ()) if inv_id != j.id]
            known = batch.reach(cid)
            history = History(
                in_flight[cid] - 1,
                max(sends, default=None),
                frozenset(n for n, r in known.items() if r.opted_out),
                consented.get(cid, frozenset()),
            )
            required = needs_consent(j.survey.options)
            reason = skip_reason(
                history,
                j.channels,
                j.survey.resurvey_days,
                now,
                rt.settings.contact_fatigue_days,
                required,
            )
            if reason is not None:
                skipped[reason].append(j.id)
                in_flight[cid] -= 1
                continue
            # Quiet hours hold at send time too: deferred, never dropped (unless the customer
            # just wrote to us: a /start at night wants the survey now).
            quiet = send_quiet(j.survey.options, j.channels, present=present(known, now))
            later = outside_quiet_hours(now, contact_zone(j.contact), quiet)
            if later > now:
                deferred.append({"b_id": j.id, "b_due": later})  # not a failed attempt
                continue
            j.unconsented = unconsented(history, j.channels, required)  # the next one instead
            j.plan = batch.plan(conn, j, now)
            if j.plan is None and j.awaiting_link:
                # Only the deep-link channel is left and the customer has not opened the link
                # yet: wait for /start (which makes it due at once) until the link expires.
                deferred.append({"b_id": j.id, "b_due": j.link_expires_at})
                continue
            if j.plan is None:
                failed.append(j.id)
                in_flight[cid] -= 1
                continue
            j.lease_until = lease_until
            sending[j.plan.channel].append(j.id)
            to_send.append(j)
        for reason, ids in skipped.items():
            conn.execute(_SKIPPED, {"ids": ids, "reason": reason})
        if deferred:
            conn.execute(_DEFERRED, deferred)
        if failed:
            conn.execute(_FAILED, {"ids": failed})
        for channel, ids in sending.items():
            conn.execute(_SENDING, {"ids": ids, "lease": lease_until, "channel": channel})
    return to_send, batch, len(jobs)


def _job(r: Any, survey: SurveyRow, now: datetime) -> Job:
    channels = list(r[3] or [])
    contact = Contact(id=r[8], name=r[9], phone=r[10], telegram_chat_id=r[11], timezone=r[12])
    return Job(
        id=r[0],
        contact=contact,
        survey=survey,
        language=r[2],
        channels=channels,
        attempts=r[4] + 1,
        sent_at=r[5],
        link_expires_at=r[7],
        awaiting_link=r[6] is not None
        and r[7] is not None
        and r[7] > now
        and any(registry.capabilities(c).needs_deep_link for c in channels),
    )

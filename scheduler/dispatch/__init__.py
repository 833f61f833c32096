"""Sending due invitations: claim a batch under a lease, send outside any transaction, record.

A survey is sent at most once: a worker that dies between the send and the record leaves a lease
that expires into the visible `unknown` state (see `sweep`), never a silent resend.

The work is set-based, per batch, not per invitation (`dispatch_due`):

1. One transaction claims up to `batch` due invitations (`FOR UPDATE SKIP LOCKED` on
   PostgreSQL, `BEGIN IMMEDIATE` on SQLite) joined with their contacts, reads their surveys,
   all their contacts' channels, and the facts the rules need (other invitations in flight,
   the last send) for all those contacts in one GROUP BY; the rules, quiet hours and the channel
   choice are decided in Python and written back in a few grouped UPDATEs: the ones to send
   become `sending` with one lease for the whole batch.
2. The sends run in the loop's thread pool (`DISPATCH_CONCURRENCY`: one `_sender` per thread,
   fed through a queue), each after the channel's rate limiter, with no transaction open. The
   next batch is claimed while the pool still has work, so a slow provider is never left idle
   between batches.
3. Results are recorded in bulk every few milliseconds, in a recorder thread beside the next
   claim: on PostgreSQL one UPDATE of the sent invitations and one INSERT … SELECT of their
   question messages, whatever their number (an executemany on SQLite); a failure is handled
   per type (stopped or unreachable: marked, then the next channel in the same batch; outside
   the window: the next channel; retryable: rescheduled with backoff; else failed).

Per survey the Python is kept small (issue 7; `docs/benchmarks.md`, "Dispatch"): the question's
shared parts are built once per survey, language and channel in a batch, signed buttons only
for channels that show them, statements once per dialect.

The lease invariant: an invitation's send *starts* only while `now < lease_until - guard`
(`_guard`: half the lease, at most `HTTP_TIMEOUT` + 1 s), checked in the sending thread after
the rate limiter let it through. The sweep makes a lease `unknown` only once `lease_until < now`,
and an operator can `resend` only an `unknown` one, so no send starts on an invitation another
worker or an operator could already act on; the guard leaves the send time to finish and be
recorded before the lease runs out, so a live send is not shown `unknown` (if it is, because the
provider was slower than the guard, the record still makes it `asked`: it went out). An
invitation whose lease ran too low while it waited in the pool is not sent: it is put back to
`scheduled` (it provably did not go out, even if a sweep already called it `unknown`) and
claimed again. Records and put-backs match the claim by `lease_until`, which an operator's
`resend` clears and a new claim replaces.
"""

from __future__ import annotations

import json
import logging
import random
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import Executor, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from queue import Empty, SimpleQueue
from time import monotonic
from typing import Any, cast

from sqlalchemy import (
    ARRAY,
    BigInteger,
    ColumnElement,
    DateTime,
    Select,
    String,
    Table,
    Text,
    any_,
    bindparam,
    case,
    func,
    insert,
    or_,
    select,
    text,
    type_coerce,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from bot.runtime import Runtime
from bot.storage.messages import outbound_payload, queue_outbound
from bot.storage.models import Contact, ContactChannel, Invitation, Message, Survey
from bot.storage.models import InvitationState as S
from bot.survey.contacts import address_for, ensure_channel
from bot.survey.question import score_buttons
from bot.survey.rules import IN_FLIGHT, contact_zone, outside_quiet_hours, parse_quiet
from bot.texts import Texts, texts_for
from channels.base import Outbound, Sent, Template
from channels.errors import ContactStopped, OutsideWindow, SendError, Throttled, Unreachable
from scheduler.claim import claim

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)  # outbox rows; invitations use `lease_for` (DISPATCH_LEASE_SECONDS)
MAX_ATTEMPTS = 6
WINDOW = timedelta(hours=24)  # WhatsApp's customer-service window


def backoff(attempt: int, retry_after: float | None = None) -> timedelta:
    """Exponential backoff with full jitter, at least what the provider asked for."""
    base = min(3600.0, 15.0 * 2 ** max(attempt - 1, 0))
    return timedelta(seconds=max(retry_after or 0.0, random.uniform(base / 2, base)))


@dataclass(frozen=True)
class Plan:
    invitation_id: int
    channel: str
    message: Outbound
    contact_id: int


def lease_for(rt: Runtime) -> timedelta:
    """How long a worker holds an invitation it is sending (`DISPATCH_LEASE_SECONDS`)."""
    return timedelta(seconds=rt.settings.dispatch_lease_seconds)


def _plan(rt: Runtime, s: Session, inv: Invitation, now: datetime) -> Plan | None:
    """The first channel in the invitation's order that is configured, reachable and allowed."""
    for name in inv.channels:
        if name not in rt.channels:
            continue
        contact = inv.contact
        cc = s.scalar(
            select(ContactChannel).where(
                ContactChannel.contact_id == contact.id, ContactChannel.channel == name
            )
        )
        address = cc.address if cc else address_for(contact, name)
        if address is None:
            continue
        cc = cc or ensure_channel(s, contact, name, address)
        if cc.opted_out_at is not None or cc.unreachable_at is not None:
            continue
        texts = texts_for(
            inv.language,
            inv.survey.texts,
            default=rt.settings.default_language,
            business=rt.settings.business_name,
        )
        msg = question(
            rt,
            inv.id,
            inv.survey.options,
            inv.language,
            contact.name,
            name,
            address,
            cc.last_inbound_at,
            texts,
            now,
        )
        return Plan(inv.id, name, msg, contact.id)
    return None


def question(
    rt: Runtime,
    inv_id: int,
    options: Mapping[str, Any],
    language: str,
    contact_name: str | None,
    channel: str,
    address: str,
    last_inbound_at: datetime | None,
    texts: Texts,
    now: datetime,
) -> Outbound:
    """The NPS question for one invitation on one channel: score buttons (numbered text where
    there are none), and the approved template where free text is not allowed (WhatsApp outside
    the 24 h window the customer's last message opened)."""
    return _Question.build(rt, options, language, channel, texts).message(
        rt, inv_id, contact_name, address, last_inbound_at, now
    )


@dataclass(frozen=True)
class _Question:
    """The parts of the NPS question shared by every invitation of one survey, language and
    channel, worked out once per batch; `message` fills in the invitation's own."""

    channel: str
    text: str
    template: Mapping[str, Any] | None
    buttons: bool  # the channel shows buttons (elsewhere the text already asks "0 to 10")
    whatsapp: bool

    @classmethod
    def build(
        cls, rt: Runtime, options: Mapping[str, Any], language: str, channel: str, texts: Texts
    ) -> _Question:
        tpl = options.get("whatsapp_templates", {}).get(language)
        ch = rt.channels.get(channel)
        return cls(
            channel,
            texts("question"),
            tpl or None,
            getattr(ch, "supports_buttons", True),
            channel == "whatsapp",
        )

    def message(
        self,
        rt: Runtime,
        inv_id: int,
        contact_name: str | None,
        address: str,
        last_inbound_at: datetime | None,
        now: datetime,
    ) -> Outbound:
        tpl = self.template
        template = None
        if tpl:
            template = Template(tpl["sid"], {"1": contact_name or ""} | tpl.get("variables", {}))
        inside = last_inbound_at is not None and now - last_inbound_at < WINDOW
        return Outbound(
            channel=self.channel,
            to=address,
            text=self.text,
            # Optional buttons: a channel without buttons sends the text alone (`render_text`),
            # so the 11 signed buttons are made only for channels that show them.
            buttons=score_buttons(rt.settings.secret_key, inv_id) if self.buttons else (),
            buttons_optional=True,
            template=template,
            needs_template=self.whatsapp and not inside,
            ref=f"inv-{inv_id}",
        )


INV = cast(Table, Invitation.__table__)
CON = cast(Table, Contact.__table__)
SUR = cast(Table, Survey.__table__)
CCH = cast(Table, ContactChannel.__table__)
MSG = cast(Table, Message.__table__)
# Not IN (...): an expanding parameter cannot be used with executemany.
_SENDING_OR_UNKNOWN = or_(INV.c.state == S.SENDING, INV.c.state == S.UNKNOWN)
FLUSH_SECONDS = 0.05  # how long a sent survey may wait for its record (batched with others)
BETWEEN_SECONDS = 1.0  # staff alerts and queued replies still go out during a long drain


@dataclass
class Job:
    """One claimed invitation and what its sends need, read once for the batch."""

    id: int
    contact_id: int
    contact_name: str | None
    # (phone, Telegram chat id, time zone): a transient `Contact` is built from them only for
    # the rare paths that need one (no channel row yet, quiet hours).
    contact_rest: tuple[str | None, str | None, str | None]
    survey: _SurveyRow
    language: str
    channels: list[str]
    attempts: int  # after this claim
    sent_at: datetime | None
    link_expires_at: datetime | None
    awaiting_link: bool
    lease_until: datetime | None = None
    plan: Plan | None = None
    tried: set[str] = field(default_factory=set)

    @property
    def contact(self) -> Contact:
        phone, chat, tz = self.contact_rest
        return Contact(
            id=self.contact_id,
            name=self.contact_name,
            phone=phone,
            telegram_chat_id=chat,
            timezone=tz,
        )


@dataclass(frozen=True)
class _SurveyRow:
    id: int
    texts: dict[str, Any]
    options: dict[str, Any]
    resurvey_days: int
    expiry_hours: int


@dataclass
class _Channel:
    address: str
    opted_out_at: datetime | None
    unreachable_at: datetime | None
    last_inbound_at: datetime | None


class _Lapsed:
    """The lease ran too low before the send could start: not sent."""


class _Crashed:
    """The channel raised something unexpected: maybe sent, so left to become `unknown`."""


LAPSED, CRASHED = _Lapsed(), _Crashed()
Outcome = tuple[Sent, datetime] | SendError | _Lapsed | _Crashed


def _guard(rt: Runtime) -> timedelta:
    lease = lease_for(rt)
    return min(lease / 2, timedelta(seconds=rt.settings.http_timeout + 1))


class _Batch:
    """The decisions and reads of one claim, keyed for set-based lookups."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        # (contact id, channel) -> the contact's row on that channel
        self.ccs: dict[tuple[int, str], _Channel] = {}
        self.questions: dict[tuple[int, str, str], _Question] = {}

    def plan(self, s: Session, job: Job, now: datetime) -> Plan | None:
        """The first channel in the invitation's order, not tried yet, that is configured,
        reachable and allowed (as `_plan`, from the batch's reads)."""
        rt = self.rt
        cid = job.contact_id
        for name in job.channels:
            if name not in rt.channels or name in job.tried:
                continue
            cc = self.ccs.get((cid, name))
            address = cc.address if cc else address_for(job.contact, name)
            if address is None:
                continue
            if cc is None:
                cc = self._ensure_channel(s, cid, name, address)
            if cc.opted_out_at is not None or cc.unreachable_at is not None:
                continue
            key = (job.survey.id, job.language, name)
            q = self.questions.get(key)
            if q is None:
                texts = texts_for(
                    job.language,
                    job.survey.texts,
                    default=rt.settings.default_language,
                    business=rt.settings.business_name,
                )
                q = self.questions[key] = _Question.build(
                    rt, job.survey.options, job.language, name, texts
                )
            msg = q.message(rt, job.id, job.contact_name, address, cc.last_inbound_at, now)
            return Plan(job.id, name, msg, cid)
        return None

    def _ensure_channel(self, s: Session, contact_id: int, name: str, address: str) -> _Channel:
        insert = pg_insert if self.rt.db.postgres else sqlite_insert
        s.execute(
            insert(CCH)
            .values(contact_id=contact_id, channel=name, address=address)
            .on_conflict_do_nothing()
        )
        cc = self.ccs[(contact_id, name)] = _Channel(address, None, None, None)
        return cc

    def load_channels(self, conn: Connection, contact_ids: Any) -> None:
        rows = conn.execute(_STATEMENTS[self.rt.db.postgres].channels, {"b_contacts": contact_ids})
        for cid, name, address, opted, unreachable, inbound in rows:
            self.ccs[(cid, name)] = _Channel(address, opted, unreachable, inbound)


def _among(postgres: bool, col: ColumnElement[int], name: str) -> ColumnElement[bool]:
    """`col IN :name`. On PostgreSQL `col = ANY(CAST(:name AS bigint[]))`, the ids given as one
    '{1,2,…}' string (`_ids`): one statement text whatever the number of ids (IN renders a
    parameter per id, so each batch size was a new statement for SQLAlchemy and psycopg to
    render and convert, and for the server to parse), and no per-element adaptation (psycopg
    adapts a list to an array element by element, in Python)."""
    if not postgres:
        return col.in_(bindparam(name, expanding=True))
    return col == any_(sql_cast(bindparam(name, type_=String), ARRAY(BigInteger)))


def _ids(postgres: bool, ids: Collection[int]) -> Any:
    return "{" + ",".join(map(str, ids)) + "}" if postgres else list(ids)


class _Statements:
    """The claim's and the record's statements, built once per dialect: a statement built anew
    each batch spent more of the worker's time on SQLAlchemy's cache key than on the rows."""

    def __init__(self, postgres: bool) -> None:
        self.claim = _claim_stmt(postgres)
        self.surveys = select(
            SUR.c.id, SUR.c.texts, SUR.c.options, SUR.c.resurvey_days, SUR.c.expiry_hours
        ).where(_among(postgres, SUR.c.id, "b_surveys"))
        self.channels = select(
            CCH.c.contact_id,
            CCH.c.channel,
            CCH.c.address,
            _when(postgres, CCH.c.opted_out_at),
            _when(postgres, CCH.c.unreachable_at),
            _when(postgres, CCH.c.last_inbound_at),
        ).where(_among(postgres, CCH.c.contact_id, "b_contacts"))
        # The rules' facts for every contact at once, from its invitations outside the batch.
        self.facts = (
            select(
                INV.c.contact_id,
                func.sum(case((INV.c.state.in_(IN_FLIGHT), 1), else_=0)),
                func.max(INV.c.sent_at),
            )
            .where(
                _among(postgres, INV.c.contact_id, "b_contacts"),
                ~_among(postgres, INV.c.id, "b_ids"),
            )
            .group_by(INV.c.contact_id)
        )
        ids = _among(postgres, INV.c.id, "b_ids")
        self.skipped = (
            update(INV)
            .where(ids)
            .values(
                state=S.SKIPPED,
                skip_reason=bindparam("b_reason"),
                lease_until=None,
                attempts=INV.c.attempts + 1,
            )
        )
        self.deferred = (
            update(INV)
            .where(INV.c.id == bindparam("b_id"))
            .values(due_at=bindparam("b_due"), lease_until=None)
        )
        self.failed = (
            update(INV)
            .where(ids)
            .values(
                state=S.FAILED,
                lease_until=None,
                attempts=INV.c.attempts + 1,
                last_error=func.coalesce(INV.c.last_error, "no configured, reachable channel"),
            )
        )
        # The channel is recorded before the send, so an `unknown` one says where it went.
        self.sending = (
            update(INV)
            .where(ids)
            .values(
                state=S.SENDING,
                lease_until=bindparam("b_lease"),
                attempts=INV.c.attempts + 1,
                channel=bindparam("b_channel"),
            )
        )


def _when(postgres: bool, col: ColumnElement[datetime]) -> ColumnElement[datetime]:
    """A timestamp column as read in the claim. On PostgreSQL as the driver returns it, aware,
    without `UTCDateTime`'s conversion to UTC: a Python call per value, a tenth of the claim's
    CPU, and the claim only compares these values or writes them back (through `UTCDateTime`).
    SQLite returns text that only `UTCDateTime` turns into an aware datetime."""
    return type_coerce(col, DateTime(timezone=True)) if postgres else col


def _claim_stmt(postgres: bool) -> Select[Any]:
    stmt = (
        select(
            INV.c.id,
            INV.c.survey_id,
            INV.c.language,
            # As text, parsed once per distinct value in a batch (`_channel_lists`): the JSON
            # decoder per row was a fifth of the claim's CPU, for a handful of distinct orders.
            sql_cast(INV.c.channels, Text),
            INV.c.attempts,
            _when(postgres, INV.c.sent_at),
            INV.c.link_token,
            _when(postgres, INV.c.link_expires_at),
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


_STATEMENTS = {True: _Statements(True), False: _Statements(False)}


def claim_batch(rt: Runtime, now: datetime, limit: int) -> tuple[list[Job], _Batch, int]:
    """Claim due invitations, apply the rules, choose channels: one transaction, a few set-based
    statements. Returns the invitations to send (state `sending`, under one lease), the batch's
    reads, and how many were claimed (sent, skipped, deferred or failed)."""
    batch = _Batch(rt)
    pg = rt.db.postgres
    st = _STATEMENTS[pg]
    with rt.db.session_for_update() as s:
        # Core statements on the session's connection: the ORM's execute path (bulk update
        # evaluation, autoflush) has nothing to do for them.
        conn = s.connection()
        rows = conn.execute(st.claim, {"now": now, "limit": limit}).all()
        if not rows:
            return [], batch, 0
        surveys = {
            r.id: _SurveyRow(r.id, r.texts or {}, r.options or {}, r.resurvey_days, r.expiry_hours)
            for r in conn.execute(st.surveys, {"b_surveys": _ids(pg, {r[1] for r in rows})})
        }
        orders = _channel_lists({r[3] for r in rows})
        jobs = [
            Job(
                id=r[0],
                contact_id=r[8],
                contact_name=r[9],
                contact_rest=(r[10], r[11], r[12]),
                survey=surveys[r[1]],
                language=r[2],
                channels=list(orders[r[3]]),
                attempts=r[4] + 1,
                sent_at=r[5],
                link_expires_at=r[7],
                awaiting_link=r[6] is not None
                and r[7] is not None
                and r[7] > now
                and "telegram" in orders[r[3]],
            )
            for r in rows
        ]
        contact_ids = _ids(pg, {j.contact_id for j in jobs})
        batch.load_channels(conn, contact_ids)
        # The rules' facts for every contact at once, from its invitations outside this batch;
        # the batch's own are added in Python as it is decided, in claim order.
        in_flight: dict[int, int] = {}
        last_sent: dict[int, list[tuple[int, datetime]]] = defaultdict(list)
        for cid, count, last in conn.execute(
            st.facts, {"b_contacts": contact_ids, "b_ids": _ids(pg, [j.id for j in jobs])}
        ):
            in_flight[cid] = int(count or 0)
            if last is not None:
                last_sent[cid].append((0, last))
        for j in jobs:
            cid = j.contact_id
            in_flight[cid] = in_flight.get(cid, 0) + 1  # claimed: `sending`, in flight
            if j.sent_at is not None:
                last_sent[cid].append((j.id, j.sent_at))

        lease_until = now + lease_for(rt)
        skipped: dict[str, list[int]] = defaultdict(list)
        deferred: list[dict[str, Any]] = []
        failed: list[int] = []
        sending: dict[str, list[int]] = defaultdict(list)
        to_send: list[Job] = []
        quiet_of: dict[int, tuple[time, time]] = {}
        for j in jobs:
            cid = j.contact_id
            reason = _skip_reason(batch, j, in_flight[cid] - 1, last_sent, now)
            if reason is not None:
                skipped[reason].append(j.id)
                in_flight[cid] -= 1
                continue
            quiet = quiet_of.get(j.survey.id)
            if quiet is None:
                quiet = quiet_of[j.survey.id] = parse_quiet(j.survey.options.get("quiet_hours"))
            # No quiet hours (start == end): no zone to work out, never deferred.
            later = (
                now
                if quiet[0] == quiet[1]
                else outside_quiet_hours(now, contact_zone(j.contact), quiet)
            )
            if later > now:
                deferred.append({"b_id": j.id, "b_due": later})  # not a failed attempt
                continue
            j.plan = batch.plan(s, j, now)
            if j.plan is None and j.awaiting_link:
                # Only Telegram is left and the customer has not opened the deep link yet:
                # wait for /start (which makes it due at once) until the link expires.
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
            conn.execute(st.skipped, {"b_ids": _ids(pg, ids), "b_reason": reason})
        if deferred:
            conn.execute(st.deferred, deferred)
        if failed:
            conn.execute(st.failed, {"b_ids": _ids(pg, failed)})
        for channel, ids in sending.items():
            conn.execute(
                st.sending, {"b_ids": _ids(pg, ids), "b_lease": lease_until, "b_channel": channel}
            )
    return to_send, batch, len(jobs)


def _channel_lists(texts: Collection[str | None]) -> dict[str | None, list[str]]:
    """The claim's `channels` JSON texts, each distinct one parsed once."""
    return {t: (json.loads(t) or []) if t else [] for t in texts}


def _skip_reason(
    batch: _Batch,
    j: Job,
    others_in_flight: int,
    last_sent: dict[int, list[tuple[int, datetime]]],
    now: datetime,
) -> str | None:
    """`bot.survey.rules.skip_reason`, from the batch's reads (same rules, same order)."""
    if others_in_flight:
        return "open_invitation"
    cid = j.contact_id
    last = None
    for inv_id, t in last_sent.get(cid, ()):
        # The invitation's own earlier send (a resend after `unknown`) does not count.
        if inv_id != j.id and (last is None or t > last):
            last = t
    if last is not None and now - last < timedelta(days=j.survey.resurvey_days):
        return "resurvey_window"
    # Opted out of every channel in its order (a plain loop: this runs for every invitation).
    for name in j.channels:
        cc = batch.ccs.get((cid, name))
        if cc is None or cc.opted_out_at is None:
            return None
    return "opted_out" if j.channels else None


def _send(rt: Runtime, job: Job, guard: timedelta) -> Outcome:
    """One send, in a pool thread: the rate limiter, the lease check, the provider call."""
    plan = job.plan
    assert plan is not None and job.lease_until is not None
    if rt.limiter is not None and not rt.limiter.acquire(plan.channel):
        return Throttled("local rate limit: no slot within 30 s")
    # The module's invariant: no send starts once another worker's sweep could act on it.
    if rt.clock() >= job.lease_until - guard:
        return LAPSED
    try:
        sent = rt.channels[plan.channel].send(plan.message)
    except SendError as exc:
        return exc
    except Exception:
        log.exception("sending invitation %s on %s crashed", job.id, plan.channel)
        return CRASHED
    return sent, rt.clock()


def _record(rt: Runtime, batch_of: dict[int, _Batch], done: list[tuple[Job, Outcome]]) -> list[Job]:
    """Record a bunch of send results in one transaction; returns the jobs to send again now
    (on their next channel)."""
    sent = [(j, o) for j, o in done if isinstance(o, tuple)]
    lapsed = [j for j, o in done if isinstance(o, _Lapsed)]
    errors = [(j, o) for j, o in done if isinstance(o, SendError)]
    again: list[Job] = []
    with rt.db.session_for_update() as s:
        if sent and rt.db.postgres:
            _record_sent_pg(s, sent)
        elif sent:
            s.execute(
                update(INV)
                .where(INV.c.id == bindparam("b_id"), _SENDING_OR_UNKNOWN)
                .values(
                    state=S.ASKED,
                    channel=bindparam("b_channel"),
                    sent_at=bindparam("b_at"),
                    expires_at=bindparam("b_expires"),
                    lease_until=None,
                    last_error=None,
                ),
                [
                    {
                        "b_id": j.id,
                        "b_channel": j.plan.channel if j.plan else None,
                        "b_at": at,
                        "b_expires": at + timedelta(hours=j.survey.expiry_hours),
                    }
                    for j, (_sent, at) in sent
                ],
            )
            # The question rows as `queue_outbound` would write them, already sent.
            s.execute(
                insert(MSG),
                [
                    {
                        "channel": j.plan.channel,
                        "direction": "out",
                        "provider_id": result.provider_id,
                        "address": j.plan.message.to,
                        "contact_id": j.plan.contact_id,
                        "invitation_id": j.id,
                        "in_reply_to_id": None,
                        "kind": "question",
                        "text": j.plan.message.text,
                        "payload": outbound_payload(j.plan.message),
                        "status": result.status,
                        "attempts": 1,
                        "next_attempt_at": at,
                        "created_at": at,
                        "status_at": at,
                    }
                    for j, (result, at) in sent
                    if j.plan is not None
                ],
            )
        if lapsed:
            # Provably not sent: back to the queue, even if a sweep already said `unknown`.
            s.execute(
                update(INV)
                .where(
                    INV.c.id == bindparam("b_id"),
                    _SENDING_OR_UNKNOWN,
                    INV.c.lease_until == bindparam("b_lease"),
                )
                .values(state=S.SCHEDULED, lease_until=None, attempts=INV.c.attempts - 1),
                [{"b_id": j.id, "b_lease": j.lease_until} for j in lapsed],
            )
        now = rt.clock()
        for j, exc in errors:
            if _failed(s, batch_of[j.id], j, exc, now):
                again.append(j)
    return again


# PostgreSQL: the sent invitations and their question rows in two statements whatever their
# number (an executemany sends a bind and an execute per row), their values in one JSON
# parameter: psycopg adapts a Python list to an array element by element in Python, which cost
# more than the statements, while `json.dumps` is C. No join of the invitations with the rows
# for the UPDATE: with few rows `sending` in the statistics the planner scans the state index
# and rescans the rows for each, O(batch x invitations in flight); each row is looked up by id
# in a JSON object instead, parsed once (MATERIALIZED: inlined, a generic plan parsed it again
# for every reference in every row, 12 times slower).
_SENT_PG = text(
    """
    WITH r AS MATERIALIZED (SELECT CAST(:rows AS jsonb) AS j)
    UPDATE invitations
    SET state = 'asked', channel = r.j -> CAST(id AS text) ->> 'channel',
        sent_at = CAST(r.j -> CAST(id AS text) ->> 'at' AS timestamptz),
        expires_at = CAST(r.j -> CAST(id AS text) ->> 'expires' AS timestamptz),
        updated_at = CAST(r.j -> CAST(id AS text) ->> 'at' AS timestamptz),
        lease_until = NULL, last_error = NULL
    FROM r
    WHERE id = ANY(CAST(:ids AS bigint[])) AND state IN ('sending', 'unknown')
    """
)
_QUESTIONS_PG = text(
    """
    INSERT INTO messages (channel, direction, provider_id, address, contact_id, invitation_id,
        in_reply_to_id, kind, text, payload, status, attempts, next_attempt_at, created_at,
        status_at)
    SELECT v.payload ->> 'channel', 'out', v.provider_id, v.payload ->> 'to', v.contact_id,
        v.invitation_id, NULL, 'question', v.payload ->> 'text', v.payload, v.status, 1, v.at,
        v.at, v.at
    FROM json_to_recordset(CAST(:rows AS json)) AS v(provider_id varchar, contact_id bigint,
        invitation_id bigint, payload jsonb, status varchar, at timestamptz)
    """
)


def _record_sent_pg(s: Session, sent: list[tuple[Job, tuple[Sent, datetime]]]) -> None:
    invitations: dict[str, dict[str, str]] = {}
    questions: list[dict[str, Any]] = []
    for j, (result, at) in sent:
        plan = cast(Plan, j.plan)
        msg = plan.message
        assert msg.channel == plan.channel
        iso = at.isoformat()
        expires = (at + timedelta(hours=j.survey.expiry_hours)).isoformat()
        invitations[str(j.id)] = {"channel": plan.channel, "at": iso, "expires": expires}
        questions.append(
            {  # the channel, address and text are the payload's
                "provider_id": result.provider_id,
                "contact_id": plan.contact_id,
                "invitation_id": j.id,
                "payload": outbound_payload(msg),
                "status": result.status,
                "at": iso,
            }
        )
    ids = "{" + ",".join(invitations) + "}"
    conn = s.connection()  # Core statements: nothing for the ORM's execute path to do
    conn.execute(_SENT_PG, {"rows": json.dumps(invitations), "ids": ids})
    conn.execute(_QUESTIONS_PG, {"rows": json.dumps(questions)})


def _failed(s: Session, batch: _Batch, j: Job, exc: SendError, now: datetime) -> bool:
    """Record a failed send (rare: one row at a time). True when the next channel is planned and
    the invitation should be sent again now, under the same lease."""
    assert j.plan is not None
    channel = j.plan.channel
    log.warning("sending invitation %s on %s failed: %s", j.id, channel, type(exc).__name__)
    error = f"{channel}: {type(exc).__name__}" + (f" {exc.code}" if exc.code else "")
    cid = j.contact_id
    cc = batch.ccs.get((cid, channel))
    where_cc = (CCH.c.contact_id == cid, CCH.c.channel == channel)
    next_channel = False
    if isinstance(exc, ContactStopped) and cc is not None:
        cc.opted_out_at = now
        s.execute(update(CCH).where(*where_cc).values(opted_out_at=now))
        next_channel = True
    elif isinstance(exc, OutsideWindow):
        next_channel = True  # no template for this language: try the next channel, keep WhatsApp
    elif isinstance(exc, Unreachable) and cc is not None:
        cc.unreachable_at = now
        s.execute(update(CCH).where(*where_cc).values(unreachable_at=now, unreachable_reason=error))
        next_channel = True
    ours = (INV.c.id == j.id, INV.c.state == S.SENDING, INV.c.lease_until == j.lease_until)
    if next_channel:
        j.tried.add(channel)
        j.plan = batch.plan(s, j, now)
        if j.plan is not None:
            res = s.execute(
                update(INV).where(*ours).values(channel=j.plan.channel, last_error=error)
            )
            # Swept to `unknown` meanwhile: left to the operator, like any lapsed lease.
            return bool(getattr(res, "rowcount", 0))
        values: dict[str, Any] = {"state": S.FAILED}
    elif exc.retryable and j.attempts < MAX_ATTEMPTS:
        retry = exc.retry_after if isinstance(exc, Throttled) else None
        values = {"state": S.SCHEDULED, "due_at": now + backoff(j.attempts, retry)}
    else:
        values = {"state": S.FAILED}
    s.execute(update(INV).where(*ours).values(lease_until=None, last_error=error, **values))
    return False


# Records run beside the claims in this thread (one for the process: a record is one short
# transaction, and one at a time keeps them in order).
_RECORDER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="record")


def _sender(
    rt: Runtime,
    guard: timedelta,
    jobs: SimpleQueue[Job | None],
    results: SimpleQueue[tuple[Job, Outcome]],
) -> None:
    """One pool thread's part of a drain: send queued invitations until told to stop (None)."""
    while (job := jobs.get()) is not None:
        try:
            outcome = _send(rt, job, guard)
        except Exception:
            # The rate limiter's store failing, say: maybe not sent, but this thread must go on
            # (the drain waits for every result) and the lease will make it `unknown`.
            log.exception("sending invitation %s crashed", job.id)
            outcome = CRASHED
        results.put((job, outcome))


def dispatch_due(
    rt: Runtime,
    now: datetime,
    pool: Executor | None = None,
    batch: int = 100,
    between: Callable[[], object] | None = None,
) -> int:
    """Claim, send and record due invitations until none is due; returns how many were claimed.

    With a pool, each of its threads runs one `_sender` for the whole drain, fed through a
    queue (a Future per send cost the worker more than the send to a fast provider); the next
    batch is claimed while fewer sends than the pool has threads are waiting, and results are
    recorded every `FLUSH_SECONDS` by the `_RECORDER` thread, one record at a time, so that
    recording one batch and claiming the next wait on the database side by side; `between`
    runs about every second of a long drain (staff alerts, queued replies)."""
    guard = _guard(rt)
    threads = getattr(pool, "_max_workers", 1) if pool is not None else 1
    jobs_q: SimpleQueue[Job | None] = SimpleQueue()
    results: SimpleQueue[tuple[Job, Outcome]] = SimpleQueue()
    senders: list[Future[None]] = []
    in_pool = 0  # queued or being sent, not yet in `results`' hands
    batch_of: dict[int, _Batch] = {}
    done: list[tuple[Job, Outcome]] = []
    recording: Future[list[Job]] | None = None
    recorded: list[tuple[Job, Outcome]] = []  # what `recording` records
    claimed = 0
    more = True
    first_done = 0.0
    last_between = monotonic()

    def recorded_now(again: list[Job]) -> None:
        retry = {j.id for j in again}
        for job, _o in recorded:
            if job.id not in retry:
                batch_of.pop(job.id, None)
        for job in again:
            submit(job)

    def submit(job: Job) -> None:
        nonlocal in_pool
        in_pool += 1
        if pool is None:
            results.put((job, _send(rt, job, guard)))
            return
        if not senders:
            senders.extend(pool.submit(_sender, rt, guard, jobs_q, results) for _ in range(threads))
        jobs_q.put(job)

    try:
        while True:
            if more and in_pool < threads:
                jobs, b, n = claim_batch(rt, rt.clock() if claimed else now, batch)
                claimed += n
                more = n == batch  # fewer than asked for: nothing else is due yet
                for job in jobs:
                    batch_of[job.id] = b
                    submit(job)
            if recording is not None and (recording.done() or not in_pool):
                again = recording.result()  # waits only when nothing else is in flight
                recording = None
                recorded_now(again)
            if not in_pool and not done and recording is None:
                break
            if in_pool:
                try:
                    finished = [results.get(timeout=FLUSH_SECONDS)]
                except Empty:
                    finished = []
                while not results.empty():  # this thread is the only consumer
                    finished.append(results.get())
                for job, outcome in finished:
                    in_pool -= 1
                    if not done:
                        first_done = monotonic()
                    if not isinstance(outcome, _Crashed):
                        done.append((job, outcome))
            # Recorded in bulk, but soon: a recorded survey is one a customer's answer can find.
            if (
                done
                and recording is None
                and (len(done) >= batch or not in_pool or monotonic() - first_done >= FLUSH_SECONDS)
            ):
                recorded, done = done, []
                if pool is None:
                    recorded_now(_record(rt, batch_of, recorded))
                else:
                    recording = _RECORDER.submit(_record, rt, batch_of, recorded)
            if between is not None and monotonic() - last_between >= BETWEEN_SECONDS:
                between()
                last_between = monotonic()
    finally:
        # Queued sends still go out (their leases were committed), then the senders stop; a
        # record under way finishes (no connection outlives the pass).
        for _ in senders:
            jobs_q.put(None)
        running: list[Future[Any]] = [*senders]
        if recording is not None:
            running.append(recording)
        wait(running)
    return claimed


def next_due(rt: Runtime) -> datetime | None:
    """When the earliest scheduled invitation is due (the claim's index answers at once)."""
    with rt.db.session() as s:
        return s.scalar(select(func.min(Invitation.due_at)).where(Invitation.state == S.SCHEDULED))


def remind(rt: Runtime, now: datetime, limit: int = 100) -> int:
    """One reminder, after the survey's reminder_hours without an answer (a template on
    WhatsApp outside the 24 h window)."""
    done = 0
    with rt.db.session_for_update() as s:
        for survey in s.scalars(select(Survey).where(Survey.reminder_hours.is_not(None))):
            assert survey.reminder_hours is not None
            due = claim(
                s,
                select(Invitation)
                .where(
                    Invitation.survey_id == survey.id,
                    Invitation.state == S.ASKED,
                    Invitation.reminded_at.is_(None),
                    Invitation.sent_at < now - timedelta(hours=survey.reminder_hours),
                    Invitation.expires_at > now,
                )
                .limit(limit),
                rt.db.postgres,
            )
            for inv in due:
                inv.reminded_at = now
                inv.state = S.SENDING  # _plan wants the invitation's own channel first
                inv.channels = [inv.channel or "", *[c for c in inv.channels if c != inv.channel]]
                plan = _plan(rt, s, inv, now)
                inv.state = S.ASKED
                if plan is None or plan.channel != inv.channel:
                    continue  # opted out or unreachable since: no reminder
                queue_outbound(
                    s,
                    plan.message,
                    contact_id=plan.contact_id,
                    invitation_id=inv.id,
                    kind="reminder",
                    now=now,
                )
                done += 1
    if done:
        rt.wake.set()
    return done


def sweep(rt: Runtime, now: datetime) -> None:
    """Time-based moves: expired leases become `unknown`, unanswered surveys expire."""
    with rt.db.session() as s:
        s.execute(
            update(Invitation)
            .where(Invitation.state == S.SENDING, Invitation.lease_until < now)
            .values(
                state=S.UNKNOWN, last_error="lease expired: the send may or may not have happened"
            )
        )
        s.execute(
            update(Invitation)
            .where(Invitation.state == S.ASKED, Invitation.expires_at < now)
            .values(state=S.EXPIRED, updated_at=now)
        )
        s.execute(
            update(Message)
            .where(
                Message.direction == "out",
                Message.status == "sending",
                Message.provider_id.is_(None),  # always, while sending: the outbox index's rows
                Message.next_attempt_at < now - LEASE,
            )
            .values(status="unknown")
        )

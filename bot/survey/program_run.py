"""Relational programs in the database: a survey's day planned (`bot.survey.programs`) and its
invitations made by the purchases' own path (`purchases.new_invitation`: due time, quiet hours,
the skip rules), once per survey and day (`ProgramRun`, unique), whichever worker comes first.

A program's invitation has no order: `order_id` is NULL (the column is nullable and unique only
where set), its metadata says `{"program": <survey key>}`. A synthetic order id would put
npsbot's names in the business's order namespace, where the API's idempotency lives.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.runtime import Runtime
from bot.storage.models import Contact, ContactChannel, Invitation, ProgramRun, Survey
from bot.storage.models import InvitationState as S
from bot.survey.contacts import SANDBOX, address_on
from bot.survey.programs import (
    Plan,
    Program,
    day_cap,
    in_audience,
    is_relational,
    plan_day,
    program_of,
    queue,
)
from bot.survey.purchases import new_invitation
from bot.survey.rules import History, load_histories, needs_consent, skip_reason

NO_ADDRESS = "no_address"  # no address on any of the survey's configured channels
OUTSIDE = "not_in_audience"
HEAD = 50  # the fewest due contacts whose histories are read at once


@dataclass(frozen=True)
class Member:
    id: int
    name: str  # the contact's name or id, for `programs preview --verbose`
    channels: tuple[str, ...]  # the survey's configured channels it can be reached on


@dataclass
class Facts:
    """What a program's day is planned from."""

    program: Program
    members: dict[int, Member]  # the audience
    outside: int  # contacts not in it
    last_surveyed: dict[int, date]  # by this survey (a skipped invitation does not count)
    histories: dict[int, History]  # the rules' facts, for the members due (`load_head`)


def relational(s: Session) -> list[Survey]:
    return [
        row for row in s.scalars(select(Survey).order_by(Survey.key)) if is_relational(row.options)
    ]


def load_facts(rt: Runtime, s: Session, survey: Survey, today: date) -> Facts:
    program = program_of(survey.options)
    configured = [c for c in survey.channels if c in rt.channels]
    boxes = set(
        s.scalars(select(ContactChannel.contact_id).where(ContactChannel.channel == SANDBOX))
    )
    bought: dict[int, date] = {}
    if program.within_days is not None or program.older_than_days is not None:
        rows = s.execute(
            select(Invitation.contact_id, func.max(Invitation.occurred_at))
            .where(Invitation.order_id.is_not(None), Invitation.contact_id.is_not(None))
            .group_by(Invitation.contact_id)
        )
        bought = {int(cid): at.astimezone(UTC).date() for cid, at in rows if cid is not None}
    members: dict[int, Member] = {}
    outside = 0
    # The columns the plan needs, not whole contacts: a day reads the entire base.
    columns = (Contact.id, Contact.name, Contact.external_id, Contact.phone)
    base = s.execute(
        select(*columns, Contact.telegram_chat_id, Contact.attributes).order_by(Contact.id)
    )
    for cid, name, external, phone, chat, attributes in base:
        if not in_audience(program, attributes or {}, bought.get(cid), today):
            outside += 1
            continue
        reach = tuple(
            ch
            for ch in configured
            if address_on(ch, cid, phone, chat) or (ch == SANDBOX and cid in boxes)
        )
        members[cid] = Member(cid, name or external or f"#{cid}", reach)
    last = {
        int(cid): at.astimezone(UTC).date()
        for cid, at in s.execute(
            select(Invitation.contact_id, func.max(Invitation.created_at))
            .where(Invitation.survey_id == survey.id, Invitation.state != S.SKIPPED)
            .group_by(Invitation.contact_id)
        )
        if cid is not None  # an erased customer's invitations
    }
    return Facts(program, members, outside, last, {})


def load_head(rt: Runtime, s: Session, survey: Survey, facts: Facts, now: datetime) -> None:
    """The rules' facts (`facts.histories`) for the head of the day's queue: as many of the
    due, in the order they are asked, as it takes to find the day's cap not blocked. The plan
    chooses no one further; `preview` reads everyone's, for every reason."""
    p = facts.program
    today = now.astimezone(UTC).date()
    due = queue(facts.members, facts.last_surveyed, p.cadence_days, today)
    cap = day_cap(len(facts.members), p.cadence_days, p.daily_cap, today)
    consent = bool(needs_consent(survey.options))
    facts.histories = {}
    read = 0
    while read < len(due) and len(facts.histories) - len(blocked(rt, survey, facts, now)) < cap:
        batch = due[read : read + max(2 * cap, HEAD)]
        facts.histories |= load_histories(s, batch, consent=consent)
        read += len(batch)


def blocked(rt: Runtime, survey: Survey, facts: Facts, now: datetime) -> dict[int, str]:
    """The members a survey rule refuses now (the rules' one copy, `rules.skip_reason`)."""
    out: dict[int, str] = {}
    for cid, history in facts.histories.items():
        member = facts.members[cid]
        if not member.channels:
            out[cid] = NO_ADDRESS
            continue
        fatigue = rt.settings.contact_fatigue_days
        required = needs_consent(survey.options)
        why = skip_reason(history, member.channels, survey.resurvey_days, now, fatigue, required)
        if why is not None:
            out[cid] = why
    return out


def plan(rt: Runtime, survey: Survey, facts: Facts, now: datetime) -> Plan:
    p = facts.program
    today = now.astimezone(UTC).date()
    return plan_day(
        facts.members,
        facts.last_surveyed,
        p.cadence_days,
        p.daily_cap,
        today,
        blocked(rt, survey, facts, now),
    )


def run_programs(rt: Runtime, now: datetime) -> int:
    """Each relational survey's day, once (the first worker to claim it); returns invitations
    made. Called by every worker pass: a day already run costs two small reads."""
    today = now.astimezone(UTC).date()
    with rt.db.session() as s:
        done = set(s.scalars(select(ProgramRun.survey_id).where(ProgramRun.day == today)))
        todo = [row.id for row in relational(s) if row.id not in done]
    made = 0
    for survey_id in todo:
        with suppress(IntegrityError):  # another worker claimed this survey's day first
            made += run_day(rt, survey_id, now, today)
    if made:
        rt.wake.set()
    return made


def run_day(rt: Runtime, survey_id: int, now: datetime, today: date) -> int:
    """Claim SURVEY_ID's day and make its invitations; IntegrityError if it was claimed."""
    with rt.db.session_for_update() as s:
        run = ProgramRun(survey_id=survey_id, day=today, invited=0, created_at=now)
        s.add(run)
        s.flush()  # the claim: unique per (survey, day)
        survey = s.get(Survey, survey_id)
        assert survey is not None
        facts = load_facts(rt, s, survey, today)
        load_head(rt, s, survey, facts, now)
        chosen = plan(rt, survey, facts, now).chosen
        # Lock the chosen (as a purchase locks its contact), then read their histories again:
        # a purchase may have committed one since `load_facts` read them.
        rows = select(Contact).where(Contact.id.in_(chosen)).order_by(Contact.id)
        contacts = {c.id: c for c in s.scalars(rows.with_for_update() if rt.db.postgres else rows)}
        histories = load_histories(s, chosen, consent=bool(needs_consent(survey.options)))
        for cid in chosen:
            channels = facts.members[cid].channels
            meta = {"program": survey.key}
            inv = new_invitation(
                rt, s, survey, contacts[cid], channels, now, meta=meta, history=histories[cid]
            )
            run.invited += inv.state == S.SCHEDULED
        return run.invited


@dataclass(frozen=True)
class Day:
    day: date
    plan: Plan
    outside: int


def preview(
    rt: Runtime, key: str, days: int, now: datetime
) -> tuple[list[Day], Mapping[int, Member]]:
    """Who the next `days` days would ask, and why not the others: the worker's own plan,
    each day's chosen contacts counted as surveyed (sent that day) for the days after.
    Starts tomorrow when today's run is done. KeyError: no such relational survey."""
    with rt.db.session() as s:
        survey = s.scalar(select(Survey).where(Survey.key == key))
        if survey is None or not is_relational(survey.options):
            raise KeyError(key)
        start = now.astimezone(UTC).date()
        ran = s.scalar(
            select(ProgramRun.id).where(ProgramRun.survey_id == survey.id, ProgramRun.day == start)
        )
        if ran is not None:
            start += timedelta(days=1)
            now += timedelta(days=1)
        facts = load_facts(rt, s, survey, start)
        everyone = load_histories(s, facts.members, consent=bool(needs_consent(survey.options)))
        out: list[Day] = []
        for i in range(days):
            moment = now + timedelta(days=i)
            day = start + timedelta(days=i)
            facts.histories = {
                cid: h
                for cid, h in everyone.items()
                if cid not in facts.last_surveyed
                or (day - facts.last_surveyed[cid]).days >= facts.program.cadence_days
            }
            p = plan(rt, survey, facts, moment)
            out.append(Day(day, p, facts.outside))
            for cid in p.chosen:
                facts.last_surveyed[cid] = day
                everyone[cid] = replace(everyone[cid], last_sent=moment)
        return out, facts.members


def counts(reasons: Mapping[int, str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for why in reasons.values():
        out[why] = out.get(why, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))

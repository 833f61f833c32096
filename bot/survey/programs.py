"""Relational programs, the pure part: who is in a survey's audience, and whom to ask today.

A relational survey (`kind = "relational"`) measures the whole base continuously: each day
about 1/cadence of the eligible contacts, longest not surveyed first, capped by `daily_cap`,
nobody twice within the cadence. The worker (`bot.survey.program_run`) loads the facts and
creates the invitations; `npsbot programs preview` shows the same plan for the next days.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

DEFAULT_CADENCE = 90

# Why a contact of the audience is not asked on a day (besides the rules' own skip reasons).
RECENT = "surveyed_recently"  # asked within the cadence
LATER = "later_day"  # due, but beyond today's share of the base (fairness: asked on a later day)
CAP = "daily_cap"  # within today's share, but over the survey's daily cap


@dataclass(frozen=True)
class Program:
    """A relational survey's settings, from its (validated) options."""

    cadence_days: int = DEFAULT_CADENCE
    daily_cap: int | None = None
    attributes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    within_days: int | None = None  # last purchase at most this many days ago
    older_than_days: int | None = None  # last purchase more than this many days ago


def is_relational(options: Mapping[str, Any]) -> bool:
    return options.get("kind") == "relational"


def program_of(options: Mapping[str, Any]) -> Program:
    audience = options.get("audience") or {}
    attrs = {
        str(k): tuple(str(x) for x in (v if isinstance(v, list) else [v]))
        for k, v in (audience.get("attributes") or {}).items()
    }
    return Program(
        cadence_days=int(options.get("cadence_days", DEFAULT_CADENCE)),
        daily_cap=options.get("daily_cap"),
        attributes=attrs,
        within_days=audience.get("last_purchase_within_days"),
        older_than_days=audience.get("last_purchase_older_than_days"),
    )


def in_audience(
    p: Program, attributes: Mapping[str, Any], last_purchase: date | None, today: date
) -> bool:
    """The contact's attributes equal one of each filter's values (compared as text), and its
    last purchase is within / older than the given days (a contact with no purchase passes
    only a filter without purchase dates)."""
    for key, allowed in p.attributes.items():
        if key not in attributes or str(attributes[key]) not in allowed:
            return False
    if p.within_days is None and p.older_than_days is None:
        return True
    if last_purchase is None:
        return False
    age = (today - last_purchase).days
    if p.within_days is not None and age > p.within_days:
        return False
    return p.older_than_days is None or age > p.older_than_days


def share(eligible: int, cadence_days: int, today: date) -> int:
    """Today's share of `eligible` contacts: floor((t+1)·N/C) − floor(t·N/C) for day t, so any
    `cadence_days` consecutive days ask exactly N, each day ⌊N/C⌋ or ⌈N/C⌉."""
    t = today.toordinal()
    return (t + 1) * eligible // cadence_days - t * eligible // cadence_days


@dataclass(frozen=True)
class Plan:
    chosen: tuple[int, ...]  # contact ids to invite today, fairest first
    reasons: Mapping[int, str]  # every other eligible contact → why not today


def queue(
    eligible: Iterable[int], last_surveyed: Mapping[int, date], cadence_days: int, today: date
) -> list[int]:
    """Those of `eligible` due `today` (not surveyed within the cadence), in the order they are
    asked: never surveyed first, then the longest ago, then by id."""
    due: list[tuple[int, int, int]] = []
    for cid in eligible:
        last = last_surveyed.get(cid)
        if last is None or (today - last).days >= cadence_days:
            due.append((0 if last is None else 1, last.toordinal() if last else 0, cid))
    due.sort()
    return [cid for _n, _d, cid in due]


def day_cap(eligible: int, cadence_days: int, daily_cap: int | None, today: date) -> int:
    """How many are asked `today` at most: today's share, capped by the survey's daily cap."""
    quota = share(eligible, cadence_days, today)
    return quota if daily_cap is None else min(quota, daily_cap)


def plan_day(
    eligible: Collection[int],
    last_surveyed: Mapping[int, date],
    cadence_days: int,
    daily_cap: int | None,
    today: date,
    blocked: Mapping[int, str] | None = None,
) -> Plan:
    """Whom of `eligible` to ask `today`. `last_surveyed`: each contact's last invitation of
    this survey; `blocked`: contacts a survey rule refuses now (`rules.skip_reason`: fatigue,
    an open invitation, opted out…), who keep their place in the queue for a later day.
    `chosen` depends only on the head of the `queue`, up to its first `day_cap` unblocked: the
    worker reads the rules' facts of that head alone (`program_run.load_head`)."""
    blocked = blocked or {}
    due = queue(eligible, last_surveyed, cadence_days, today)
    waiting = set(due)
    reasons: dict[int, str] = {}
    for cid in eligible:
        if cid not in waiting:
            reasons[cid] = RECENT
        elif cid in blocked:
            reasons[cid] = blocked[cid]
    free = [cid for cid in due if cid not in blocked]
    quota = share(len(eligible), cadence_days, today)
    cap = day_cap(len(eligible), cadence_days, daily_cap, today)
    chosen = tuple(free[:cap])
    for i, cid in enumerate(free[cap:], start=cap):
        reasons[cid] = CAP if i < quota else LATER
    return Plan(chosen, reasons)

"""A contact's consent per channel, as history: every grant or withdrawal is a `Consent` row with
how it reached npsbot (`METHODS`) and when; the latest row per channel is the state.

`record` is the one way a row is written: the contacts API and the CSV (`customers`), a
touchpoint's code, a Telegram `/start`, and every opt-out or opt-in again (`bot.survey.optout`:
a STOP/START keyword, typed or handled by the provider, a send the provider refused, the
Delighted-compatible unsubscribe). `granted` and `history` read it back (the dispatcher's consent
rule, the customer page).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Connection, Table, bindparam, select

from bot.storage.models import Consent

# How consent reached npsbot (`Consent.method`): the contacts API or a purchase's customer, the
# CSV, a customer's touchpoint code, a Telegram /start, a STOP/START keyword, and the business's
# own opt-in reported through the API (`"method": "business"`), and a provider refusing a send
# because the customer opted out with it (Twilio 21610: `bot.survey.optout`).
METHODS = ("api", "csv", "touchpoint", "start", "keyword", "business", "provider")

CONSENTS = cast(Table, Consent.__table__)
_c = CONSENTS.c
_LAST = (
    select(_c.given, _c.source, _c.at)
    .where(_c.contact_id == bindparam("contact_id"), _c.channel == bindparam("channel"))
    .order_by(_c.at.desc(), _c.id.desc())
    .limit(1)
)
_ALL = (
    select(_c.contact_id, _c.channel, _c.given)
    .where(_c.contact_id.in_(bindparam("ids", expanding=True)))
    .order_by(_c.contact_id, _c.at, _c.id)
)


@dataclass(frozen=True)
class Grant:
    """Consent given (or withdrawn) on one channel; `at` None: when it is recorded."""

    channel: str
    given: bool
    source: str | None = None
    at: datetime | None = None


def record(conn: Connection, contact_id: int, g: Grant, method: str, now: datetime) -> bool:
    """Append the grant unless it is what the history says already (same answer and source,
    and no new date); whether it was appended."""
    assert method in METHODS, method
    last = conn.execute(_LAST, {"contact_id": contact_id, "channel": g.channel}).first()
    when = g.at or now
    same = last is not None and (last.given, last.source) == (g.given, g.source)
    if same and (g.at is None or (last is not None and last.at == when)):
        return False
    conn.execute(
        CONSENTS.insert(),
        {
            "contact_id": contact_id,
            "channel": g.channel,
            "given": g.given,
            "method": method,
            "source": g.source,
            "at": when,
            "recorded_at": now,
        },
    )
    return True


def granted(conn: Connection, contact_ids: Collection[int]) -> dict[int, frozenset[str]]:
    """Per contact, the channels whose latest consent is a grant."""
    latest: dict[int, dict[str, bool]] = {cid: {} for cid in contact_ids}
    ids = list(latest)
    for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
        for cid, channel, given in conn.execute(_ALL, {"ids": chunk}):
            latest[cid][channel] = given  # in date order: the last one wins
    return {cid: frozenset(c for c, g in by.items() if g) for cid, by in latest.items()}


def history(conn: Connection, contact_id: int) -> dict[str, list[Consent]]:
    """Per channel, the contact's consent rows, newest first (the first is the state)."""
    out: dict[str, list[Consent]] = {}
    rows = conn.execute(
        select(CONSENTS)
        .where(_c.contact_id == contact_id)
        .order_by(_c.channel, _c.at.desc(), _c.id.desc())
    )
    for row in rows:
        out.setdefault(row.channel, []).append(Consent(**row._mapping))
    return out

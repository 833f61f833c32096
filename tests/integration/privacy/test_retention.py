"""Retention (RETENTION_*_DAYS): each kind of personal data goes exactly past its own limit, not
a moment before; the preview counts what the run removes; a second run removes nothing; scores,
themes and the NPS reports stay as they were."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import func, select, update

from bot.cli import main
from bot.events import RecordingBus
from bot.insights import rollup
from bot.privacy import retention
from bot.privacy.retention import RUN
from bot.runtime import Runtime
from bot.storage.models import (
    Alert,
    AuditEvent,
    Case,
    CaseEvent,
    Contact,
    Message,
    Response,
)
from bot.web.app import create_app
from scheduler.loop import Loop
from tests.conftest import Clock, make_settings
from tests.integration.insights.seed import api_key
from tests.integration.privacy.history import customer

# Each kind its own limit, so that each step of the test sees one kind go.
LIMITS = {"messages": 10, "comments": 20, "deliveries": 30, "cases": 40, "contacts": 50}


@pytest.fixture
def app(database_url: str, clock: Clock, bus: RecordingBus) -> Iterator[Flask]:
    env = {f"RETENTION_{kind.upper()}_DAYS": str(days) for kind, days in LIMITS.items()}
    app = create_app(make_settings(database_url, **env), bus=bus)
    app.extensions["npsbot"].clock = clock
    yield app
    app.extensions["npsbot"].close()


def counts(rt: Runtime) -> dict[str, int]:
    with rt.db.session() as s:
        return {p.kind: p.count for p in retention.plan(s, rt.settings, rt.clock())}


def reports(app: Flask, rt: Runtime, day: datetime) -> list[object]:
    client, headers = app.test_client(), api_key(rt)
    window = f"from={(day - timedelta(days=1)).date()}&to={(day + timedelta(days=1)).date()}"
    return [
        client.get(f"/api/v1/{path}{window}", headers=headers).get_json()
        for path in ("nps?", "themes?")
    ]


def test_each_kind_goes_exactly_past_its_own_limit_and_a_second_run_removes_nothing(
    app: Flask, rt: Runtime, clock: Clock
) -> None:
    start = clock.now
    ana = customer(rt, "Ana", "+525512345678", 2, "resolved", start)
    customer(rt, "Bruno", "+525587654321", 4, "taken", start)  # his case is still open
    with rt.db.session() as s:  # a staff digest, the other kind of delivery record
        s.add(Alert(destination="telegram:-100", kind="digest:daily:2026-11-21", state="sent",
                    next_attempt_at=start, created_at=start, sent_at=start))  # fmt: skip
    rollup.refresh_job(rt.db, (start + timedelta(days=2)).date())
    before = reports(app, rt, start)
    # Nothing is removed on the day each limit is reached, nor on any day before it.
    removes = {
        "messages": 4,  # the question and the answer of each; the queued replies stay
        "comments": 2,
        "deliveries": 2,  # Ana's resolved case's alert and the digest; Bruno's case is open
        "cases": 1,  # Ana's, resolved; with its events
        "contacts": 2,
    }
    gone: dict[str, int] = {}
    for kind, days in LIMITS.items():
        clock.now = start + timedelta(days=days)
        assert counts(rt) == {k: 0 for k in LIMITS}, f"{kind}: not a moment before"
        clock.advance(seconds=1)
        expected = {k: removes[k] if k == kind else 0 for k in LIMITS}
        assert counts(rt) == expected
        assert retention.run_daily(rt, clock.now) == expected
        assert retention.run_daily(rt, clock.now) is None  # the day's run is done
        assert retention.enforce(rt.db, rt.settings, clock.now) == {k: 0 for k in LIMITS}
        gone[kind] = removes[kind]
        with rt.db.session() as s:
            if kind == "messages":
                rows = list(s.scalars(select(Message).order_by(Message.id)))
                assert [(m.text, m.payload) for m in rows if m.status != "queued"] == [("", {})] * 4
                assert [m.provider_id for m in rows if m.status != "queued"] == [
                    "SMAnaout", "SMAnain", "SMBrunoout", "SMBrunoin"
                ]  # fmt: skip
                assert all(m.payload for m in rows if m.status == "queued")
            if kind == "comments":
                kept = list(s.execute(select(Response.comment, Response.score, Response.themes)))
                assert sorted(kept) == [(None, 2, ["delivery"]), (None, 4, ["delivery"])]
            if kind == "deliveries":
                assert [a.kind for a in s.scalars(select(Alert))] == ["alert"]  # Bruno's
            if kind == "cases":
                assert [c.status for c in s.scalars(select(Case))] == ["taken"]
                assert s.scalar(select(func.count(CaseEvent.id))) == 1
            if kind == "contacts":
                assert s.get(Contact, ana) is None
                assert s.scalar(select(func.count(Contact.id))) == 0
                assert sorted(s.scalars(select(Response.score))) == [2, 4]  # anonymous, kept
    with rt.db.session() as s:
        runs = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "retention.run")))
    assert [(r.actor, r.detail) for r in runs] == [
        ("retention", {"state": "done", **{k: gone[k] if k == kind else 0 for k in LIMITS}})
        for kind in LIMITS
    ]
    assert reports(app, rt, start) == before  # scores and themes, and the rollup, untouched
    rollup.refresh_job(rt.db, clock.now.date())
    assert reports(app, rt, start) == before  # the touched days rebuilt: the same numbers


def test_a_run_goes_in_batches_and_leaves_past_its_cap_to_the_next_run(
    rt: Runtime, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = clock.now
    customer(rt, "Ana", "+525512345678", 2, "resolved", start)
    customer(rt, "Bruno", "+525587654321", 4, "resolved", start)
    customer(rt, "Caro", "+525511112222", 5, "resolved", start)
    monkeypatch.setattr(retention, "BATCH", 2)
    monkeypatch.setattr(retention, "PER_RUN", 5)
    # `npsbot retention preview` (its clock is the real one, days after these rows).
    monkeypatch.setenv("DATABASE_URL", rt.settings.database_url)
    monkeypatch.setenv("SECRET_KEY", "x" * 32)
    monkeypatch.setenv("RETENTION_MESSAGES_DAYS", "5")
    shown = CliRunner().invoke(main, ["retention", "preview", "--json"])
    assert shown.exit_code == 0, shown.output
    (row,) = [json.loads(line) for line in shown.output.splitlines()]
    assert (row["kind"], row["count"], row["more"], row["oldest"]) == (
        "messages",
        5,
        True,
        "2026-11-22T15:00:00Z",
    )
    table = CliRunner().invoke(main, ["retention", "preview"]).output
    assert "messages" in table and "(more in the following runs)" in table
    clock.advance(days=10, seconds=1)
    settings = replace(rt.settings, retention_comments_days=0, retention_contacts_days=0)
    with rt.db.session() as s:
        (planned,) = [p for p in retention.plan(s, settings, clock.now) if p.kind == "messages"]
    assert (planned.count, planned.more, planned.oldest) == (5, True, start)
    assert retention.enforce(rt.db, settings, clock.now)["messages"] == 5  # 2 + 2 + 1
    assert retention.enforce(rt.db, settings, clock.now)["messages"] == 1
    assert retention.enforce(rt.db, settings, clock.now)["messages"] == 0


def test_two_workers_checking_at_once_run_the_day_once(rt: Runtime, clock: Clock) -> None:
    customer(rt, "Ana", "+525512345678", 2, "resolved", clock.now)
    bruno = customer(rt, "Bruno", "+525587654321", 4, "resolved", clock.now)
    late = clock.now + timedelta(days=59)
    with rt.db.session() as s:  # Bruno answered his old survey yesterday: he is not inactive
        answer = update(Response).where(Response.contact_id == bruno)
        s.execute(answer.values(scored_at=late, commented_at=late))
    clock.advance(days=60)
    loop = Loop(rt)  # what `npsbot worker` runs: its hourly retention check
    assert loop.scheduler.get_job("retention") is not None
    try:
        workers = [threading.Thread(target=loop._retention) for _ in range(2)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        loop.dispatcher.close()
    with rt.db.session() as s:
        runs = [r.detail for r in s.scalars(select(AuditEvent).where(AuditEvent.action == RUN))]
    assert runs == [
        {"state": "done", "messages": 4, "comments": 1, "contacts": 1, "cases": 1, "deliveries": 0}
    ]

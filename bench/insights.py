"""Insights benchmark: dashboard queries and the NPS API over 1,000,000 responses in PostgreSQL.

Creates a scratch database `npsbot_bench_<random>` on the server of BENCH_DATABASE_URL (default
postgresql://postgres@127.0.0.1:5432/test), migrates it, fills it with bulk SQL (`INSERT …
SELECT generate_series`), runs each query several times, alternating with its baseline, on the
raw tables only ("raw": no rollup yet), then builds the daily rollup
(`rollup.refresh_rollup`, timed), marks a few days changed since that refresh, as a live
system has (a corrected answer on three past days; a few invitations of each of the last three
days expired), and runs them again ("rollup"). Prints p50/p95 in ms and the ratio of the rollup
p50 to a plain `COUNT(*)` over the same filter on the raw table; then drops the database.

    .venv/bin/python bench/insights.py [--responses 1000000] [--repeat 15] [--keep]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bot.accounts.apikeys import create_key
from bot.accounts.users import create_user
from bot.insights import filters, lists, reports, rollup
from bot.storage.db import Database
from bot.storage.models import Case, Invitation, Response, RollupState
from bot.web.app import create_app
from tests.fakes import dispatch_db

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
THEMES = ["delivery", "price", "staff", "quality", "app", "support", "wait", "stock"]

FILL = """
INSERT INTO surveys (key, name, texts, delay_minutes, resurvey_days, expiry_hours, channels,
                     options, created_at, updated_at)
VALUES ('post-purchase', 'Post purchase', '{{}}', 120, 30, 72, '["whatsapp","sms"]', '{{}}',
        now(), now()),
       ('delivery', 'Delivery', '{{}}', 60, 30, 72, '["whatsapp"]', '{{}}', now(), now()),
       ('support', 'Support', '{{}}', 10, 30, 72, '["telegram"]', '{{}}', now(), now());

INSERT INTO contacts (name, language, created_at, updated_at)
SELECT 'Customer ' || g, (ARRAY['es','en','pt'])[1 + g % 3], now(), now()
FROM generate_series(1, {contacts}) g;

-- Invitations: {invitations} sent over the last 365 days; the first {responses} are answered.
INSERT INTO invitations (survey_id, contact_id, order_id, state, language, channels, channel,
                         occurred_at, due_at, sent_at, attempts, reasks, metadata, created_at,
                         updated_at)
SELECT 1 + (g % 3), 1 + (g % {contacts}), 'order-' || g,
       CASE WHEN g <= {responses} THEN 'completed' ELSE 'expired' END,
       (ARRAY['es','en','pt'])[1 + g % 3], '[]',
       (ARRAY['whatsapp','sms','telegram'])[1 + (g / 7) % 3],
       ts - interval '2 hours', ts - interval '1 hour', ts - interval '1 hour', 1, 0,
       jsonb_build_object('store', 'store-' || (g % 20), 'sku', 'sku-' || (g % 500)),
       ts - interval '2 hours', ts
FROM (SELECT g, timestamptz '{now}' - (g % 525600) * interval '1 minute' AS ts
      FROM generate_series(1, {invitations}) g) s;

INSERT INTO responses (invitation_id, survey_id, contact_id, channel, score, category, comment,
                       themes, sentiment, contradiction, late, scored_at, completed_at)
SELECT i.id, i.survey_id, i.contact_id, i.channel, sc,
       CASE WHEN sc >= 9 THEN 'promoter' WHEN sc >= 7 THEN 'passive' ELSE 'detractor' END,
       CASE WHEN i.id % 2 = 0 THEN 'comment ' || i.id END,
       CASE WHEN i.id % 2 = 0
            THEN jsonb_build_array((ARRAY{themes})[1 + (i.id / 2) % 8])
                 || CASE WHEN i.id % 6 = 0 THEN jsonb_build_array((ARRAY{themes})[1 + i.id % 8])
                         ELSE '[]'::jsonb END
            ELSE '[]'::jsonb END,
       NULL, false, false, i.sent_at + interval '20 minutes', i.sent_at + interval '25 minutes'
FROM (SELECT id, survey_id, contact_id, channel, sent_at,
             -- a skewed 0-10 distribution, with drift over the year
             LEAST(10, GREATEST(0, (ARRAY[0,1,2,3,4,5,6,6,7,7,8,8,8,9,9,9,10,10,10,10])
                 [1 + ((id * 7919) % 20)] + CASE WHEN id % 50 = 0 THEN -3 ELSE 0 END)) AS sc
      FROM invitations WHERE id <= {responses}) i;

INSERT INTO cases (response_id, contact_id, status, created_at)
SELECT id, contact_id,
       CASE WHEN id % 10 = 0 THEN 'open' WHEN id % 10 = 1 THEN 'taken' ELSE 'resolved' END,
       scored_at
FROM responses WHERE category = 'detractor';
"""


def build(url: str, responses: int) -> str:
    scratch = dispatch_db.create_scratch(url, "npsbot_bench")
    name = make_url(scratch).database
    t0 = time.perf_counter()
    engine = create_engine(scratch)
    sql = FILL.format(
        contacts=max(1, responses // 5),
        invitations=int(responses * 1.15),
        responses=responses,
        now=NOW.isoformat(),
        themes="[" + ",".join(f"'{t}'" for t in THEMES) + "]",
    )
    with engine.begin() as conn:
        raw = conn.connection.driver_connection  # plain SQL, no placeholders
        assert raw is not None
        for stmt in sql.split(";\n"):
            if stmt.strip():
                raw.execute(stmt)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()
    print(f"filled {name}: {responses:,} responses in {time.perf_counter() - t0:.0f} s")
    return scratch


def build_rollup(scratch: str) -> None:
    """The backfill as the worker's first refresh runs it, then a few later changes."""
    db = Database(scratch)
    t0 = time.perf_counter()
    with db.session_for_update() as s:
        done = rollup.refresh_rollup(s, NOW.date())
    took = time.perf_counter() - t0
    with db.session() as s:
        rows = {
            t.__tablename__: s.scalar(select(func.count()).select_from(t))
            for t in rollup.ROLLUP_TABLES
        }
    print(f"rollup backfill: {done.days} days in {took:.1f} s; rows: {rows}")
    with db.session() as s:
        state = s.get(RollupState, 1)
        assert state is not None and state.checked_at is not None
        later = state.checked_at + timedelta(minutes=11)
        ids = [
            s.scalar(
                select(Response.id)
                .where(Response.scored_at >= NOW - timedelta(days=d))
                .order_by(Response.scored_at)
                .limit(1)
            )
            for d in (20, 100, 300)
        ]
        s.execute(Response.__table__.update().where(Response.id.in_(ids)).values(updated_at=later))
        s.execute(
            Invitation.__table__.update()
            .where(
                Invitation.sent_at
                >= datetime.combine(NOW.date(), datetime.min.time(), UTC) - timedelta(days=3),
                # A few per day, as expiries and late answers trickle in between refreshes.
                Invitation.id % 200 == 0,
            )
            .values(updated_at=later)
        )
    with db.session() as s:
        view = rollup.rollup_view(s)
        assert view is not None
        print(
            f"changed since the refresh: {sorted(map(str, view.dirty))} (responses), "
            f"{sorted(map(str, rollup.dirty_sent(s, view)))} (invitations)"
        )
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
    db.dispose()


def timed(
    fn: Callable[[], Any], base: Callable[[], Any], repeat: int
) -> tuple[float, float, float]:
    """p50 and p95 of `fn` and p50 of `base` in ms, the two run alternately (a burst of other
    work on the machine then slows both, not only the one measured at that moment)."""
    fn()  # warm the cache and the plan
    base()
    times: list[float] = []
    bases: list[float] = []
    for _ in range(repeat):
        for f, out in ((fn, times), (base, bases)):
            t0 = time.perf_counter()
            f()
            out.append((time.perf_counter() - t0) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return statistics.median(times), p95, statistics.median(bases)


def sent_count(s: Session, f: filters.Filters) -> int:
    """The plain COUNT(*) the response rate is compared with: invitations sent in the window."""
    stmt = select(func.count()).select_from(Invitation).where(Invitation.sent_at.is_not(None))
    if f.start:
        stmt = stmt.where(Invitation.sent_at >= f.start)
    if f.channels:
        stmt = stmt.where(Invitation.channel.in_(f.channels))
    stmt = stmt.where(*filters.meta_conditions(s, f))
    return int(s.scalar(stmt) or 0)


def open_case_count(s: Session) -> int:
    stmt = select(func.count()).select_from(Case).where(Case.status.in_(("open", "taken")))
    return int(s.scalar(stmt) or 0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    ap.add_argument("--responses", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--keep", action="store_true", help="keep the scratch database")
    ap.add_argument("--reuse", metavar="URL", help="measure a database kept by --keep")
    ap.add_argument("--only", help="measure only the queries whose label contains this")
    a = ap.parse_args()
    print(f"load average: {os.getloadavg()}")
    if a.reuse:
        report({}, run(a.reuse, a.repeat, a.only))
        return
    scratch = build(a.url, a.responses)
    if a.keep:
        print(f"kept: --reuse {scratch}")
    try:
        print("\nraw tables (no rollup yet):")
        before = run(scratch, a.repeat, a.only)
        build_rollup(scratch)
        print(f"\nwith the rollup (load average {os.getloadavg()}):")
        after = run(scratch, a.repeat, a.only)
        report(before, after)
    finally:
        if not a.keep:
            dispatch_db.drop_scratch(a.url, scratch)
    print(f"load average: {os.getloadavg()}")


Figures = dict[str, tuple[float, float, float]]  # label: p50, p95, COUNT(*) p50


def report(before: Figures, after: Figures) -> None:
    print(
        f"\n{'query':<52} {'raw p50':>8} {'p50 ms':>8} {'p95 ms':>8} {'COUNT(*) p50':>13}"
        f" {'ratio':>6}"
    )
    for label, (p50, p95, b50) in after.items():
        raw = f"{before[label][0]:8.1f}" if label in before else f"{'—':>8}"
        print(f"{label:<52} {raw} {p50:8.1f} {p95:8.1f} {b50:13.1f} {p50 / b50:6.2f}")


def run(scratch: str, repeat: int, only: str | None = None) -> Figures:
    db = Database(scratch)
    last30 = filters.parse_filters({"from": (NOW - timedelta(days=29)).date().isoformat()})
    last90 = filters.parse_filters({"from": (NOW - timedelta(days=89)).date().isoformat()})
    every = filters.Filters()
    sms = filters.parse_filters({"channel": "sms"})
    store = filters.parse_filters({"store": "store-3"})
    store90 = filters.parse_filters({"store": "store-3", "from": last90.start.date().isoformat()})  # type: ignore[union-attr]
    mid = filters.parse_filters({"from": (NOW - timedelta(days=45, hours=5)).isoformat()})
    with db.session() as s:
        total = s.scalar(select(func.count()).select_from(Response))
    print(f"responses: {total:,}")

    def q(fn: Callable[[Session], Any]) -> Callable[[], Any]:
        def call() -> Any:
            with db.session() as s:
                return fn(s)

        return call

    cases: list[tuple[str, Callable[[Session], Any], Callable[[Session], Any]]] = []
    for label, f in (
        ("all time", every),
        ("last 90 days", last90),
        ("last 30 days", last30),
        ("channel=sms", sms),
        ("store=store-3", store),
        ("store=store-3, 90 days", store90),
        ("from mid-day 45 days ago", mid),
    ):
        cases.append(
            (
                f"NPS (distribution), {label}",
                lambda s, f=f: reports.distribution(s, f),
                lambda s, f=f: filters.count_responses(s, f),
            )
        )
    for label, f in (("all time", every), ("last 90 days", last90), ("store=store-3", store)):
        cases.append(
            (
                f"response rate by channel, {label}",
                lambda s, f=f: reports.response_rate(s, f),
                lambda s, f=f: sent_count(s, f),
            )
        )
    for label, f in (("all time", every), ("last 90 days", last90), ("store=store-3", store)):
        cases.append(
            (
                f"trend by week, {label}",
                lambda s, f=f: reports.trend(s, f, "week"),
                lambda s, f=f: filters.count_responses(s, f),
            )
        )
        for by in ("channel", "survey", "store") if f is not store else ("channel",):
            cases.append(
                (
                    f"NPS by {by}, {label}",
                    lambda s, f=f, by=by: reports.breakdown(s, f, by),
                    lambda s, f=f: filters.count_responses(s, f),
                )
            )
        cases.append(
            (
                f"themes, {label}",
                lambda s, f=f: reports.themes(s, f),
                lambda s, f=f: filters.count_responses(s, f),
            )
        )
        if f is store:
            continue
        cases.append(
            (
                f"latest comments (15), {label}",
                lambda s, f=f: lists.responses(
                    s, filters.Filters(start=f.start, has_comment=True), limit=15
                ),
                lambda s, f=f: filters.count_responses(s, f),
            )
        )
    cases.append(
        (
            "open cases (20 oldest + counts)",
            lambda s: lists.open_cases(s, every, NOW),
            open_case_count,
        )
    )

    app = create_app(
        {
            "DATABASE_URL": scratch,
            "SECRET_KEY": "bench" * 8,
            "SANDBOX_ENABLED": "false",
            "SCHEDULER_ENABLED": "false",
        }
    )
    with db.session() as s:
        key = create_key(s, f"bench-{os.getpid()}-{time.monotonic_ns()}", NOW)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}

    def api(url: str) -> Callable[[Session], Any]:
        def call(_: Session) -> Any:
            r = client.get(url, headers=headers)
            assert r.status_code == 200, r.json
            return r.json

        return call

    for url, f in (
        ("/api/v1/nps", every),
        ("/api/v1/nps?from=" + last30.start.date().isoformat(), last30),
    ):  # type: ignore[union-attr]
        cases.append(
            (
                f"GET {url} (HTTP, whole request)",
                api(url),
                lambda s, f=f: filters.count_responses(s, f),
            )
        )

    with db.session() as s:
        uid = create_user(s, f"bench{time.monotonic_ns()}", "bench password 123", NOW).id
    with client.session_transaction() as sess:
        sess["uid"], sess["role"], sess["user"] = uid, "staff", "bench"
    app.extensions["npsbot"].clock = lambda: NOW

    def page(_: Session) -> Any:
        r = client.get("/dashboard")
        assert r.status_code == 200, r.status_code
        return r.data

    cases.append(
        (
            "GET /dashboard (whole page, default 90 days)",
            page,
            lambda s: filters.count_responses(s, last90),
        )
    )

    out: Figures = {}
    for label, fn, baseline in cases:
        if only and only not in label:
            continue
        p50, p95, b50 = timed(q(fn), q(baseline), repeat)
        out[label] = (p50, p95, b50)
        print(f"{label:<52} {p50:8.1f} {p95:8.1f} {b50:13.1f} {p50 / b50:6.2f}", flush=True)
    app.extensions["npsbot"].close()
    db.dispose()
    return out


if __name__ == "__main__":
    main()

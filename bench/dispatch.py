"""Dispatcher throughput and start-up on PostgreSQL: `python bench/dispatch.py`.

Real `npsbot worker` processes (`tests/fakes/run_worker.py`: the worker command with the
counting fake channel registered) claim due invitations from a scratch database, send them to
the fake and record them. Measured, in one run on one database server:

- baseline: the raw batched ``UPDATE invitations SET state = 'asked' WHERE id = ANY(:ids)``
  rate, 100 ids per statement, one transaction each;
- invitations claimed -> sent to a zero-latency fake -> recorded, per second, with 1, 2 and 4
  worker processes (from the moment the first survey is due until none is scheduled or
  sending); on a 2-core machine 2 workers against 1 is the scaling that can show (4 CPU-bound
  workers share the 2 cores with the database);
- a fake answering in 200 ms with ``SEND_RATE_LIMITS=counting=300``: achieved sends per second;
- start-up: process start -> runtime built -> the loop's first pass done, with 1,000,000
  pending invitations (due over the next day, as real surveys are).

Targets (issue 7): 1 worker >= 0.5 x baseline, 4 workers near-linear, >= 95 % of the 300 msg/s
limit, start-up < 2 s. The load average is printed beside the figures (compare ratios within
a run). Scratch databases are dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if sys.path and Path(sys.path[0]).resolve() == HERE:
    sys.path.pop(0)
sys.path.insert(0, str(HERE.parent))  # tests.fakes: the counting channel and the seeding

from sqlalchemy import create_engine, text  # noqa: E402

from bot.config import normalise_database_url  # noqa: E402
from tests.fakes import dispatch_db  # noqa: E402
from tests.fakes.counting_channel import sent_counts  # noqa: E402

PG = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def baseline(url: str, surveys: Path, n: int, batch: int = 100) -> float:
    dispatch_db.empty(url)
    dispatch_db.seed(url, surveys, n)
    engine = create_engine(normalise_database_url(url))
    with engine.connect() as conn:
        ids = list(conn.scalars(text("SELECT id FROM invitations ORDER BY id")))
    start = time.perf_counter()
    for i in range(0, len(ids), batch):
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE invitations SET state = 'asked' WHERE id = ANY(:ids)"),
                {"ids": ids[i : i + batch]},
            )
    elapsed = time.perf_counter() - start
    engine.dispose()
    return n / elapsed


def run_workers(
    url: str, tmp: Path, surveys: Path, n: int, workers: int, env: dict[str, str]
) -> float:
    """Sends per second from all workers ready until nothing is scheduled or sending."""
    dispatch_db.empty(url)
    dispatch_db.seed(url, surveys, n, due_in=5.0)  # due once the workers are up
    record = tmp / f"sent-{workers}-{time.time_ns()}.log"
    wenv = dispatch_db.worker_env(url, surveys, record, env)
    logs = [(tmp / f"w{i}.log").open("wb") for i in range(workers)]
    procs = [dispatch_db.start_worker(wenv, log) for log in logs]
    engine = create_engine(normalise_database_url(url))
    try:
        for p in procs:
            assert p.stdout is not None
            line = p.stdout.readline().decode()
            assert line.startswith("ready"), f"worker did not start: see {tmp}/w*.log"
        with engine.connect() as conn:  # start the clock when the first survey is due
            due = conn.scalar(text("SELECT extract(epoch FROM min(due_at)) FROM invitations"))
        time.sleep(max(0.0, float(due) - time.time()))
        start = time.perf_counter()
        while True:
            with engine.connect() as conn:
                left = conn.scalar(
                    text("SELECT count(*) FROM invitations WHERE state IN ('scheduled','sending')")
                )
            if not left:
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - start
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(30)
            if p.stdout is not None:
                p.stdout.close()
        for log in logs:
            log.close()
        engine.dispose()
    counts = sent_counts(record)
    assert len(counts) == n and max(counts.values()) == 1, "not every survey sent exactly once"
    return n / elapsed


def startup(url: str, tmp: Path, surveys: Path, n: int) -> tuple[float, float, float]:
    """Seconds from process start to runtime ready and to the first pass done (n pending)."""
    dispatch_db.empty(url)
    t = time.perf_counter()
    dispatch_db.seed(url, surveys, n, due_in=3600.0, spread=86400.0)
    print(f"  seeded {n:,} pending invitations in {time.perf_counter() - t:.0f} s", flush=True)
    wenv = dispatch_db.worker_env(url, surveys, tmp / "startup.log")
    with (tmp / "startup-worker.log").open("wb") as log:
        began = time.time()
        p = dispatch_db.start_worker(wenv, log)
        assert p.stdout is not None
        ready = float(p.stdout.readline().split()[1])
        first = float(p.stdout.readline().split()[1])
        p.send_signal(signal.SIGTERM)
        p.wait(30)
        p.stdout.close()
    return ready - began, first - began, first - ready


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--invitations", type=int, default=3000, help="per throughput run")
    ap.add_argument("--slow-invitations", type=int, default=3000, help="for the 200 ms run")
    ap.add_argument("--startup-invitations", type=int, default=1_000_000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="npsbot-bench-dispatch-"))
    surveys = dispatch_db.write_surveys_file(tmp)
    url = dispatch_db.create_scratch(PG, "npsbot_bench_dispatch")
    try:
        print(f"load average at start: {_load()} ({os.cpu_count()} CPUs)", flush=True)
        n = args.invitations
        base = baseline(url, surveys, n)
        print(f"baseline: batched UPDATE, 100 ids per statement: {base:,.0f} rows/s", flush=True)
        rates = {}
        for workers in (1, 2, 4):
            rates[workers] = run_workers(url, tmp, surveys, n, workers, {})
            print(
                f"{workers} worker(s), zero-latency fake, {n:,} invitations: "
                f"{rates[workers]:,.0f} /s = {rates[workers] / base:.3f} x baseline",
                flush=True,
            )
        print(
            f"scaling: 1 -> 2 workers {rates[2] / rates[1]:.2f}x, "
            f"1 -> 4 workers {rates[4] / rates[1]:.2f}x",
            flush=True,
        )
        slow = run_workers(
            url,
            tmp,
            surveys,
            args.slow_invitations,
            1,
            {
                "COUNTING_CHANNEL_LATENCY": "0.2",
                "SEND_RATE_LIMITS": "counting=300",
                "DISPATCH_CONCURRENCY": "100",
            },
        )
        print(
            f"200 ms fake, limit 300 msg/s, 1 worker, DISPATCH_CONCURRENCY=100: "
            f"{slow:,.0f} msg/s = {slow / 300:.0%} of the limit",
            flush=True,
        )
        ready, first, tick = startup(url, tmp, surveys, args.startup_invitations)
        print(
            f"start-up with {args.startup_invitations:,} pending: runtime ready {ready:.2f} s, "
            f"first pass done {first:.2f} s (the pass itself {tick * 1000:.0f} ms)",
            flush=True,
        )
        print(f"load average at the end: {_load()}", flush=True)
    finally:
        dispatch_db.drop_scratch(PG, url)


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()

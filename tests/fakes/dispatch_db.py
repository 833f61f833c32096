"""Scratch PostgreSQL databases full of due surveys (or queued replies, on either database),
and worker processes to send them.

Shared by `tests/dispatch/` and `bench/dispatch.py`. Seeding surveys is bulk SQL (one statement
per table through `generate_series`); everything else — claiming, the rules at send time,
sending, recording — is npsbot's own code, run by `tests/fakes/run_worker.py` in real processes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

from sqlalchemy import create_engine, insert, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bot.config import VARIABLES, normalise_database_url
from bot.definitions import load_surveys
from bot.storage.messages import outbound_row
from bot.storage.migrate import upgrade
from bot.storage.models import Base, Message
from bot.survey.surveys import sync_surveys
from channels import registry
from channels.base import Outbound

ROOT = Path(__file__).resolve().parents[2]
SURVEY_KEY = "dispatch-proof"
COUNTING = "tests.fakes.counting_channel:build"
# One survey on the counting channel, with no quiet hours: the proofs run at any time of day.
SURVEYS_TOML = f"""
[[survey]]
key = "{SURVEY_KEY}"
name = "Dispatcher proof"
channels = ["counting"]
quiet_hours = ["00:00", "00:00"]
"""


def write_surveys_file(directory: Path) -> Path:
    path = directory / "surveys.toml"
    path.write_text(SURVEYS_TOML)
    return path


def create_scratch(admin_url: str, prefix: str = "npsbot_dispatch") -> str:
    """A new, migrated database next to `admin_url`'s; returns its URL."""
    url = make_url(normalise_database_url(admin_url))
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        # The workers' durability on a SIGKILL is the server's committed rows, not its fsync:
        # not waiting for the WAL flush at each of a thousand sends' commits saves seconds.
        conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    admin.dispose()
    scratch = url.set(database=name).render_as_string(hide_password=False)
    upgrade(scratch)
    return scratch


def drop_scratch(admin_url: str, scratch_url: str) -> None:
    name = make_url(scratch_url).database
    admin = create_engine(make_url(normalise_database_url(admin_url)), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def empty(url: str) -> None:
    engine = create_engine(normalise_database_url(url))
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


def seed(url: str, surveys_file: Path, n: int, *, due_in: float = -60.0, spread: float = 0) -> int:
    """`n` scheduled invitations of the proof survey, one contact each (the rules allow one
    survey in flight per contact), each contact with an address on the counting channel.

    Invitation i is due `due_in + (i % 86400) / 86400 * spread` seconds from now. Returns the
    survey's id."""
    engine = create_engine(normalise_database_url(url))
    # The workers plug the counting channel in (run_worker.py); the file names it, so it is
    # plugged in here too while the file is read, and only then (other tests share the registry).
    added = "counting" not in registry.FACTORIES
    registry.FACTORIES.setdefault("counting", COUNTING)
    try:
        defs = load_surveys(str(surveys_file))
    finally:
        if added:
            del registry.FACTORIES["counting"]
    with Session(engine) as s, s.begin():
        sync_surveys(s, defs)
    with engine.begin() as conn:
        survey_id = conn.scalar(text("SELECT id FROM surveys WHERE key = :k"), {"k": SURVEY_KEY})
        conn.execute(
            text(
                """
                WITH c AS (
                    INSERT INTO contacts (name, language, timezone, created_at, updated_at)
                    SELECT 'proof ' || g, 'es', 'UTC', now(), now()
                    FROM generate_series(1, :n) AS g
                    RETURNING id
                ), cc AS (
                    INSERT INTO contact_channels (contact_id, channel, address)
                    SELECT id, 'counting', 'cnt-' || id FROM c
                )
                INSERT INTO invitations (survey_id, contact_id, state, language, channels,
                    occurred_at, due_at, attempts, reasks, metadata, created_at, updated_at)
                SELECT :survey, id, 'scheduled', 'es', '["counting"]'::jsonb, now(),
                    now() + make_interval(secs => :due_in + (id % 86400) / 86400.0 * :spread),
                    0, 0, '{}'::jsonb, now(), now()
                FROM c
                """
            ),
            {"n": n, "survey": survey_id, "due_in": due_in, "spread": spread},
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE contacts, contact_channels, invitations"))
    engine.dispose()
    assert isinstance(survey_id, int)
    return survey_id


def seed_replies(url: str, n: int) -> None:
    """`n` replies queued on the counting channel, to `reply-1` … `reply-n`, due tomorrow
    (`replies_due` makes them due once the workers are up)."""
    later = datetime.now(UTC) + timedelta(days=1)
    rows = [
        outbound_row(Outbound("counting", f"reply-{i}", "¡Gracias!"), contact_id=None, now=later)
        for i in range(1, n + 1)
    ]
    engine = create_engine(normalise_database_url(url))
    with engine.begin() as conn:
        conn.execute(insert(Message), rows)
    engine.dispose()


def replies_due(url: str) -> None:
    engine = create_engine(normalise_database_url(url))
    with engine.begin() as conn:
        past = datetime.now(UTC) - timedelta(minutes=1)
        conn.execute(update(Message).where(Message.status == "queued").values(next_attempt_at=past))
    engine.dispose()


def worker_env(
    url: str, surveys_file: Path, record: Path, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """A clean environment for a worker: no inherited npsbot settings, the counting channel on."""
    env = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": url,
            "SECRET_KEY": "dispatch-proof-secret-0123456789",
            "SANDBOX_ENABLED": "false",
            "SURVEYS_FILE": str(surveys_file),
            "LOG_LEVEL": "WARNING",
            "COUNTING_CHANNEL_FILE": str(record),
            **(extra or {}),
        }
    )
    return env


def start_worker(env: Mapping[str, str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    """`npsbot worker` with the counting channel registered (see run_worker.py)."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.run_worker"],
        cwd=ROOT,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=log,
    )


def stop_workers(workers: list[subprocess.Popen[bytes]], logs: list[IO[bytes]]) -> None:
    """SIGTERM every worker still running, wait for each (killing one that hangs), close logs."""
    for w in workers:
        if w.poll() is None:
            w.send_signal(signal.SIGTERM)
    for w in workers:
        try:
            w.wait(10)
        except subprocess.TimeoutExpired:
            w.kill()
            w.wait()
        if w.stdout is not None:
            w.stdout.close()
    for log in logs:
        log.close()

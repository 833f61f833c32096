"""Shared fixtures. Storage tests run on SQLite and on PostgreSQL (`TEST_DATABASE_URL`, or a local
PostgreSQL at the default address when one answers), and the run ends with one line naming what
was skipped and how to run it."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from bot.config import normalise_database_url
from bot.events import RecordingBus
from bot.runtime import Runtime
from bot.storage.migrate import upgrade
from bot.storage.models import Base
from bot.web.app import create_app
from tests.fakes.base import SPECS

# Where a developer's (and CI's) PostgreSQL answers; used when TEST_DATABASE_URL is not set.
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


def _answers(url: str) -> bool:
    """Whether a PostgreSQL server takes a connection at `url` within two seconds."""
    try:
        with psycopg.connect(url, connect_timeout=2):
            return True
    except psycopg.Error:
        return False


def _postgres_url() -> str:
    """TEST_DATABASE_URL; else the default address if it answers. `TEST_DATABASE_URL=` (empty)
    or `TEST_POSTGRES=off` opt out."""
    if os.environ.get("TEST_POSTGRES", "").lower() in ("off", "0", "no", "false"):
        return ""
    given = os.environ.get("TEST_DATABASE_URL")
    if given is not None:
        return given
    return DEFAULT_PG_URL if _answers(DEFAULT_PG_URL) else ""


# Set in the environment: the test modules that read TEST_DATABASE_URL, and xdist's workers
# (started after this), all see the same answer without probing again.
PG_URL = os.environ["TEST_DATABASE_URL"] = _postgres_url()
SECRET = "test-secret-key-0123456789"


# The moments a clock-frozen test can start at (issue 17: the sandbox sent nothing for twelve
# hours a day and no test saw it, because every test froze 15:00 UTC). Each is day somewhere and
# night elsewhere; the default quiet hours are 21:00-09:00 in the customer's zone.
DAY = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)  # 09:00 Mexico City, 16:00 Madrid: day for all
HOURS = (
    pytest.param(DAY, id="15:00Z"),
    # 17:30 Mexico City, 00:30 Madrid: and the night Europe's clocks spring forward (02:00 CET).
    pytest.param(datetime(2026, 3, 28, 23, 30, tzinfo=UTC), id="23:30Z-dst"),
    # 21:00 Mexico City (quiet from this minute), 04:00 Madrid, 22:00 New York.
    pytest.param(datetime(2026, 11, 22, 3, 0, tzinfo=UTC), id="03:00Z"),
)
# A test whose behaviour depends on the hour of day runs once per moment in HOURS, with the
# moment in its id (`test_…[23:30Z-dst-sqlite]`): the `clock` fixture starts there.
at_hours = pytest.mark.parametrize("clock", HOURS, indirect=True)


class Clock:
    """A controllable clock: tests move time instead of sleeping."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or DAY

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file; each test gets a copy (migrating per test is slow)."""
    path = tmp_path_factory.mktemp("db") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A scratch PostgreSQL database for this test session, migrated once, dropped at the end."""
    if not PG_URL:
        pytest.skip(
            f"PostgreSQL run skipped: none answers at {DEFAULT_PG_URL} and TEST_DATABASE_URL "
            "is not set (or TEST_POSTGRES=off)"
        )
    url = make_url(normalise_database_url(PG_URL))
    name = f"npsbot_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        # Durability on the shared server is not under test; without waiting for the WAL flush
        # each commit is several times faster when other suites share the disk.
        conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    scratch = url.set(database=name).render_as_string(hide_password=False)
    upgrade(scratch)
    yield scratch
    if engine := _engines.pop(scratch, None):
        engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


_engines: dict[str, Engine] = {}  # one per scratch database, kept for the session

# Empties the tables that hold rows, children first, and restarts the sequences that were used:
# what `TRUNCATE … RESTART IDENTITY` did, in one round trip. TRUNCATE gives every table and index
# new files, about a second per test on a busy disk; a DELETE of a few rows costs milliseconds.
_RESET = """
DO $$
DECLARE t text; s text;
BEGIN
  FOREACH t IN ARRAY ARRAY[{}]::text[] LOOP
    IF to_regclass(quote_ident(t)) IS NOT NULL THEN
      EXECUTE 'DELETE FROM ' || quote_ident(t);
    END IF;
  END LOOP;
  FOR s IN SELECT sequencename FROM pg_sequences
           WHERE schemaname = current_schema() AND last_value IS NOT NULL LOOP
    PERFORM setval(quote_ident(s), 1, false);
  END LOOP;
END $$;
""".format(", ".join(f"'{t.name}'" for t in reversed(Base.metadata.sorted_tables)))


def _truncate(url: str) -> None:
    """Every table empty and every id counting from 1 again, as after the migration."""
    if url not in _engines:
        _engines[url] = create_engine(normalise_database_url(url))
    with _engines[url].begin() as conn:
        conn.exec_driver_sql(_RESET)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated, empty database: every storage test runs once per backend."""
    if request.param == "sqlite":
        path = tmp_path / "npsbot.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_database")
    _truncate(url)
    return url


def make_settings(database_url: str, **extra: Any) -> dict[str, Any]:
    return {"DATABASE_URL": database_url, "SECRET_KEY": SECRET, "SANDBOX_ENABLED": "true", **extra}


@pytest.fixture
def clock(request: pytest.FixtureRequest) -> Clock:
    """The test's clock: at DAY, or at each of HOURS for a test marked `@at_hours`."""
    return Clock(getattr(request, "param", None))


@pytest.fixture
def bus() -> RecordingBus:
    return RecordingBus()


@pytest.fixture
def app(database_url: str, clock: Clock, bus: RecordingBus) -> Iterator[Flask]:
    app = create_app(make_settings(database_url), bus=bus)
    app.extensions["npsbot"].clock = clock
    yield app
    app.extensions["npsbot"].close()


@pytest.fixture
def rt(app: Flask) -> Runtime:
    runtime: Runtime = app.extensions["npsbot"]
    return runtime


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    return str(longrepr[2]) if isinstance(longrepr, tuple) else str(longrepr)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line at the end: how many tests were skipped, why, and how to run them."""
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if r.when != "teardown"]
    if not skipped:
        return
    postgres = specs = 0
    for report in skipped:
        reason = _skip_reason(report)
        if "PostgreSQL" in reason or "TEST_DATABASE_URL" in reason:
            postgres += 1
        elif "provider specs" in reason or "description not found" in reason:
            specs += 1
    parts = []
    if postgres:
        parts.append(
            f"{postgres} need PostgreSQL (start one at {DEFAULT_PG_URL} "
            "or set TEST_DATABASE_URL=postgresql://…)"
        )
    if specs:
        parts.append(f"{specs} need the provider specs (not found at {SPECS}: set PROVIDER_SPECS)")
    if other := len(skipped) - postgres - specs:
        parts.append(f"{other} for other reasons (pytest -rs lists them)")
    terminalreporter.write_line(f"npsbot: {len(skipped)} tests skipped: " + "; ".join(parts) + ".")

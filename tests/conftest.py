"""Shared fixtures. Storage tests run on SQLite and on PostgreSQL (`TEST_DATABASE_URL`)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from bot.config import normalise_database_url
from bot.events import RecordingBus
from bot.runtime import Runtime
from bot.storage.migrate import upgrade
from bot.storage.models import Base
from bot.web.app import create_app

PG_URL = os.environ.get("TEST_DATABASE_URL")
SECRET = "test-secret-key-0123456789"


class Clock:
    """A controllable clock: tests move time instead of sleeping."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2026, 11, 22, 15, 0, tzinfo=UTC)

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
        pytest.skip("PostgreSQL run skipped: set TEST_DATABASE_URL (make test does on CI)")
    url = make_url(normalise_database_url(PG_URL))
    name = f"npsbot_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    scratch = url.set(database=name).render_as_string(hide_password=False)
    upgrade(scratch)
    yield scratch
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate(url: str) -> None:
    engine = create_engine(normalise_database_url(url))
    present = set(inspect(engine).get_table_names())
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables if t.name in present)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


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
def clock() -> Clock:
    return Clock()


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

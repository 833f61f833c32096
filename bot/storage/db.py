"""Engines and sessions. SQLite (WAL) is the zero-setup default; PostgreSQL scales out.

Writers that read-then-write (an inbound message against its open invitation, a worker claiming
due rows) use `session_for_update()`: on PostgreSQL the code locks rows with `FOR UPDATE`; on
SQLite the transaction starts with `BEGIN IMMEDIATE`, which takes the database's write lock
before the first read, so two processes can never act on the same state.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from bot.config import normalise_database_url

# Connections a process keeps (DATABASE_POOL_SIZE): one per thread that uses the database.
# Past it, up to POOL_OVERFLOW more are opened for a burst and closed when returned, and
# opening one is expensive (a server process on PostgreSQL; the pragmas on SQLite): with
# SQLAlchemy's default of 5, a server of 8 threads opened and closed connections all the time
# under load.
POOL_SIZE = 10
POOL_OVERFLOW = 10


def make_engine(url: str, *, pool_size: int = POOL_SIZE, **kwargs: Any) -> Engine:
    url = normalise_database_url(url)
    if url.startswith("sqlite"):
        memory = url in ("sqlite://", "sqlite:///:memory:")
        if not memory:  # one shared connection (StaticPool): nothing to size
            kwargs |= {"pool_size": pool_size, "max_overflow": POOL_OVERFLOW}
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            poolclass=StaticPool if memory else None,
            **kwargs,
        )
        _sqlite_setup(engine, wal=not memory)
        return engine
    # No JIT: its compile time outweighs what it saves on report queries, and an OLTP
    # statement never gains from it. Set per connection (no extra round trip per report).
    connect_args = {"options": "-c jit=off", **kwargs.pop("connect_args", {})}
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=POOL_OVERFLOW,
        connect_args=connect_args,
        **kwargs,
    )


def _sqlite_setup(engine: Engine, *, wal: bool) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (see the "begin" hook).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        if wal:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        # Deleted or overwritten content is zeroed in the file (an erased customer's bytes go),
        # whatever the build's default (https://www.sqlite.org/pragma.html#pragma_secure_delete).
        cur.execute("PRAGMA secure_delete=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


class Database:
    """One engine and its session factory."""

    def __init__(self, url: str, **kwargs: Any) -> None:
        self.engine = make_engine(url, **kwargs)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.postgres = is_postgres(self.engine)
        # SQLite's busy handler polls with growing sleeps (1, 2, 5, 10 ms…): threads of one
        # process queue here instead, and the next one starts as soon as the lock is free.
        self._writer = threading.RLock()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed on success, rolled back on any error."""
        with self.sessions() as s, s.begin():
            yield s

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """On SQLite, this process's writer lock for the transaction (see `_writer`)."""
        # Bounded like busy_timeout: past it, SQLite's own wait decides (and errors), never a hang.
        held = not self.postgres and self._writer.acquire(timeout=30)
        try:
            yield
        finally:
            if held:
                self._writer.release()

    @contextmanager
    def session_for_update(self) -> Iterator[Session]:
        """A unit of work that will read rows and write decisions based on them (see module doc)."""
        with self._writing(), self.sessions() as s:
            if not self.postgres:
                s.connection(execution_options={"sqlite_immediate": True})  # begins
            try:
                yield s
                s.commit()
            except BaseException:
                s.rollback()
                raise

    @contextmanager
    def unit_for_update(self) -> Iterator[Unit]:
        """`session_for_update` for a hot path written in Core: a connection in a transaction,
        and an ORM session on it only if a rarer branch asks for one (`Unit.session`)."""
        options = {} if self.postgres else {"sqlite_immediate": True}
        with (
            self._writing(),
            self.engine.connect().execution_options(**options) as conn,
            conn.begin(),
        ):
            unit = Unit(conn, self)
            try:
                yield unit
                unit.flush()
            finally:
                unit.close()

    def truncate_wal(self) -> bool:
        """SQLite: copy the write-ahead log into the database and empty it, so the page images
        it kept from before a change (an erasure) leave the disk. Best effort: False when a
        reader still needs the log (the next checkpoint then does it). PostgreSQL: True."""
        if self.postgres:
            return True
        with self.engine.connect() as conn:
            driver = conn.connection.driver_connection
            assert driver is not None
            busy, _log, _done = driver.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            return not busy

    def dispose(self) -> None:
        self.engine.dispose()


class Unit:
    """One write transaction: `conn` for Core statements, `session` (made on first use, in
    the same transaction) for the ORM. Committed by `Database.unit_for_update`."""

    def __init__(self, conn: Connection, db: Database) -> None:
        self.conn = conn
        self._db = db
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        if self._session is None:
            # Joins the connection's transaction (the default "conditional_savepoint" mode):
            # flushes write into it, and the commit stays with the unit.
            self._session = self._db.sessions(bind=self.conn)
        return self._session

    def flush(self) -> None:
        if self._session is not None:
            self._session.flush()

    def close(self) -> None:
        if self._session is not None:
            self._session.close()


def refused_text(value: str) -> str | None:
    """Why the databases cannot store VALUE as text (None: they can). PostgreSQL refuses NUL
    in text and JSON, and neither driver can encode a lone UTF-16 surrogate (JSON's `\\ud800`)."""
    if "\x00" in value:
        return "must not contain NUL (\\u0000)"
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        return "must be valid Unicode (no lone surrogates)"
    return None


MAX_ID = 2**63 - 1  # row ids are BIGINT (SQLite's INTEGER): a larger number names no row


def upsert_for(dialect: str) -> Any:
    """The dialect's INSERT that takes `on_conflict_do_nothing` (PostgreSQL's or SQLite's)."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert

"""`Prepared`: the webhook's hot statements run on the driver's cursor, and store and read
exactly what `Connection.execute` would (types, column defaults, errors), on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import (
    Boolean,
    Column,
    Engine,
    MetaData,
    String,
    Table,
    bindparam,
    select,
    text,
)
from sqlalchemy.exc import ArgumentError, IntegrityError

from bot.storage.db import Prepared, make_engine
from bot.storage.models import Id, Json, UTCDateTime

NOON = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
STAMP = datetime(2001, 1, 1, tzinfo=UTC)

md = MetaData()
probe = Table(
    "prepared_probe",
    md,
    Column("id", Id, primary_key=True),
    Column("name", String(20), unique=True, nullable=False),
    Column("at", UTCDateTime()),
    Column("data", Json, default=dict),
    Column("flag", Boolean, default=False),
    Column("changed_at", UTCDateTime(), default=lambda: STAMP, onupdate=lambda: STAMP),
)
INSERT = Prepared(probe.insert().returning(probe.c.id))
UPDATE = Prepared(probe.update().where(probe.c.id == bindparam("pid")))
READ = Prepared(select(probe).where(probe.c.name == bindparam("n")))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    md.create_all(engine)
    yield engine
    md.drop_all(engine)
    engine.dispose()


def stored(engine: Engine, name: str) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(select(probe).where(probe.c.name == name)).mappings().one()
    return {k: v for k, v in row.items() if k != "id"}


def test_an_insert_stores_what_sqlalchemy_stores_column_defaults_included(engine: Engine) -> None:
    with engine.begin() as conn:
        [row] = INSERT.rows(conn, {"name": "fast", "at": NOON, "data": {"a": [1, "é"]}})
        conn.execute(probe.insert(), {"name": "core", "at": NOON, "data": {"a": [1, "é"]}})
    assert isinstance(row.id, int)
    assert stored(engine, "fast") == {**stored(engine, "core"), "name": "fast"}
    assert stored(engine, "fast") == {
        "name": "fast",
        "at": NOON,
        "data": {"a": [1, "é"]},
        "flag": False,  # a scalar default
        "changed_at": STAMP,  # a callable default
    }


def test_an_update_sets_the_named_columns_and_the_onupdate_ones(engine: Engine) -> None:
    with engine.begin() as conn:
        [row] = INSERT.rows(conn, {"name": "a", "changed_at": NOON})
        UPDATE.rows(conn, {"pid": row.id, "flag": True})
    assert stored(engine, "a")["flag"] is True
    assert stored(engine, "a")["changed_at"] == STAMP


def test_a_select_returns_named_rows_with_the_types_converted(engine: Engine) -> None:
    with engine.begin() as conn:
        INSERT.rows(conn, {"name": "a", "at": NOON, "data": {"k": 1}, "flag": True})
        [row] = READ.rows(conn, {"n": "a"})
        assert READ.rows(conn, {"n": "nobody"}) == []
    assert (row.name, row.at, row.data, row.flag) == ("a", NOON, {"k": 1}, True)
    assert row.at.tzinfo is not None


def test_many_runs_once_per_parameter_set(engine: Engine) -> None:
    insert = Prepared(probe.insert())
    with engine.begin() as conn:
        insert.many(conn, [{"name": f"n{i}", "at": NOON + timedelta(i)} for i in range(3)])
        insert.many(conn, [])
    assert [stored(engine, f"n{i}")["at"] for i in range(3)] == [
        NOON + timedelta(i) for i in range(3)
    ]


def test_a_text_statement_may_name_a_parameter_twice(engine: Engine) -> None:
    both = Prepared(text("SELECT :x AS a, :x AS b, :y AS c"))
    with engine.connect() as conn:
        assert both.rows(conn, {"x": 4, "y": 5}) == [(4, 4, 5)]


def test_a_missing_parameter_is_refused_before_anything_runs(engine: Engine) -> None:
    with engine.begin() as conn, pytest.raises(ArgumentError, match="'pid'"):
        UPDATE.rows(conn, {"flag": True})


def test_a_database_error_is_sqlalchemys_and_the_transaction_rolls_back(engine: Engine) -> None:
    with pytest.raises(IntegrityError), engine.begin() as conn:
        INSERT.rows(conn, {"name": "twin"})
        INSERT.rows(conn, {"name": "twin"})
    with engine.connect() as conn:
        assert conn.scalar(select(probe.c.id).where(probe.c.name == "twin")) is None

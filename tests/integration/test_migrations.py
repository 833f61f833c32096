"""The migrations produce exactly the models' schema, on SQLite and on PostgreSQL, and go down
and up again; the messages' foreign keys (0008) hold, keep every message and its staff links;
outbox replies get a lease (0009)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, insert, inspect, select, text
from sqlalchemy import column as sa_column
from sqlalchemy import table as sa_table
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from bot.config import normalise_database_url
from bot.storage.db import make_engine
from bot.storage.migrate import downgrade, upgrade
from bot.storage.models import (
    Base,
    Case,
    CaseEvent,
    Contact,
    Invitation,
    Message,
    Response,
    Survey,
)
from bot.storage.models.base import Json, UTCDateTime

NOW = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)
PG_URL = os.environ.get("TEST_DATABASE_URL")
KEYS = {
    ("contact_id", "contacts"),
    ("invitation_id", "invitations"),
    ("in_reply_to_id", "messages"),
}


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of its own, not migrated (the shared test database stays at head)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    if not PG_URL:
        pytest.skip("PostgreSQL run skipped: set TEST_DATABASE_URL (make test does on CI)")
    url = make_url(normalise_database_url(PG_URL))
    name = f"npsbot_migrations_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def engine(empty_url: str) -> Iterator[Engine]:
    engine = make_engine(empty_url)
    yield engine
    engine.dispose()


def message_keys(engine: Engine) -> set[tuple[str, str]]:
    fks = inspect(engine).get_foreign_keys("messages")
    return {(fk["constrained_columns"][0], fk["referred_table"]) for fk in fks}


def partial_indexes(engine: Engine) -> dict[str, str]:
    """The predicates of the messages' partial indexes, as the database stores them."""
    if engine.dialect.name == "sqlite":
        sql = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'messages'"
    else:
        sql = "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'messages'"
    with engine.connect() as conn:
        rows = conn.execute(text(sql)).all()
    return {name: ddl.split(" WHERE ")[1] for name, ddl in rows if ddl and " WHERE " in ddl}


def survey_with_case(engine: Engine) -> dict[str, int]:
    """A contact answered a survey, has a case, and staff wrote to them (a case event)."""
    with engine.begin() as conn:

        def add(model: Any, **values: Any) -> int:
            row = conn.execute(insert(model).values(**values).returning(model.id)).one()
            return int(row[0])

        contact = add(Contact, name="Ana", phone="+34600000001", language="es")
        survey = add(Survey, key="compra", name="Compra")
        invitation = add(
            Invitation, survey_id=survey, contact_id=contact, language="es", due_at=NOW
        )
        response = add(
            Response,
            invitation_id=invitation,
            survey_id=survey,
            contact_id=contact,
            channel="sms",
            score=2,
            category="detractor",
        )
        case = add(Case, response_id=response, contact_id=contact)
        message = add(
            Message,
            channel="sms",
            direction="out",
            provider_id="SM1",
            address="+34600000001",
            contact_id=contact,
            invitation_id=invitation,
            text="Lo sentimos, Ana",
        )
        event = add(CaseEvent, case_id=case, kind="staff_message", message_id=message)
    return {"contact": contact, "invitation": invitation, "message": message, "event": event}


def test_autogenerate_finds_no_difference_after_upgrade(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(ctx, Base.metadata) == []
    engine.dispose()


def test_every_migration_goes_down_and_up_again(empty_url: str, engine: Engine) -> None:
    upgrade(empty_url)
    downgrade(empty_url, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(empty_url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(ctx, Base.metadata) == []


def test_messages_name_their_contact_and_invitation_by_foreign_key(
    empty_url: str, engine: Engine
) -> None:
    upgrade(empty_url, "0007")
    assert message_keys(engine) == {("in_reply_to_id", "messages")}
    upgrade(empty_url)
    assert message_keys(engine) == KEYS
    downgrade(empty_url, "0007")
    assert message_keys(engine) == {("in_reply_to_id", "messages")}


@pytest.mark.parametrize("column", ["contact_id", "invitation_id"])
def test_a_message_naming_a_missing_row_is_refused(
    empty_url: str, engine: Engine, column: str
) -> None:
    upgrade(empty_url)
    row = {"channel": "sms", "direction": "in", "address": "+34600000001", column: 999}
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(Message).values(**row))


def test_the_upgrade_clears_dangling_ids_and_keeps_the_messages(
    empty_url: str, engine: Engine
) -> None:
    upgrade(empty_url, "0007")
    ids = survey_with_case(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(Message).values(
                channel="sms",
                direction="in",
                provider_id="SM2",
                address="+34600000002",
                contact_id=ids["contact"] + 100,
                invitation_id=ids["invitation"] + 100,
                text="hola",
            )
        )
    upgrade(empty_url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                Message.provider_id, Message.contact_id, Message.invitation_id, Message.text
            ).order_by(Message.id)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("SM1", ids["contact"], ids["invitation"], "Lo sentimos, Ana"),
        ("SM2", None, None, "hola"),
    ]


def test_rebuilding_messages_keeps_the_staff_threads_and_partial_indexes(
    empty_url: str, engine: Engine
) -> None:
    upgrade(empty_url, "0007")
    ids = survey_with_case(engine)
    before = partial_indexes(engine)
    upgrade(empty_url)
    with engine.connect() as conn:
        linked = conn.scalar(select(CaseEvent.message_id).where(CaseEvent.id == ids["event"]))
    assert linked == ids["message"]
    assert partial_indexes(engine) == before
    assert set(before) == {"ix_messages_direction_status", "ix_messages_in_reply_to_id"}


def test_outbox_replies_get_a_lease_and_one_caught_sending_keeps_the_one_it_had(
    empty_url: str, engine: Engine
) -> None:
    upgrade(empty_url, "0008")
    # The table as 0008 left it: a reply as the models of then wrote it.
    reply = {
        "channel": "sms",
        "direction": "out",
        "address": "+34600000001",
        "kind": "reply",
        "text": "¡Gracias!",
        "attempts": 1,
    }
    messages = sa_table(
        "messages",
        *(sa_column(c) for c in (*reply, "status")),
        sa_column("payload", Json),
        *(sa_column(c, UTCDateTime()) for c in ("next_attempt_at", "created_at")),
    )
    reply |= {"payload": {}, "created_at": NOW}
    with engine.begin() as conn:
        conn.execute(
            insert(messages),
            [
                {**reply, "status": "sending", "next_attempt_at": NOW},
                {**reply, "status": "queued", "next_attempt_at": NOW},
            ],
        )
    upgrade(empty_url)
    with engine.connect() as conn:
        leases = conn.execute(select(Message.status, Message.lease_until).order_by(Message.id))
        assert [tuple(r) for r in leases] == [
            ("sending", NOW + timedelta(minutes=2)),
            ("queued", None),
        ]
    downgrade(empty_url, "0008")
    assert "lease_until" not in {c["name"] for c in inspect(engine).get_columns("messages")}

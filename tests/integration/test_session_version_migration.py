"""Migration 0010: staff keep their accounts, start at session version 0, and go down again."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, inspect, text

from bot.storage.migrate import downgrade, upgrade
from tests.integration.test_migrations import empty_url, engine

__all__ = ["empty_url", "engine"]  # the fixtures: a database of the test's own, not migrated

NOW = datetime(2026, 12, 2, 5, 0, tzinfo=UTC)


def columns(engine: Engine) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns("staff_users")}


def test_existing_staff_start_at_version_zero_and_the_column_goes_down_again(
    empty_url: str, engine: Engine
) -> None:
    upgrade(empty_url, "0008")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO staff_users (username, password_hash, role, failed_logins, created_at)"
                " VALUES ('ana', 'scrypt$x', 'staff', 0, :now)"
            ),
            {"now": NOW},
        )
    upgrade(empty_url, "0010")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT username, session_version FROM staff_users")).all()
    assert [tuple(r) for r in rows] == [("ana", 0)]
    downgrade(empty_url, "0008")
    engine.dispose()
    assert "session_version" not in columns(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT username FROM staff_users")).scalars().all() == ["ana"]

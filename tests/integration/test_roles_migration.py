"""Migration 0011: staff become owners (nobody loses what they could do), read-only users
become viewers, each user gets a language, and it all goes down again."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, inspect, text

from bot.storage.migrate import downgrade, upgrade
from tests.integration.test_migrations import empty_url, engine

__all__ = ["empty_url", "engine"]  # the fixtures: a database of the test's own, not migrated

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def roles(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT username, role FROM staff_users ORDER BY username"))
        return [(r[0], r[1]) for r in rows]


def test_staff_become_owners_and_readonly_users_viewers_and_back(
    empty_url: str, engine: Engine
) -> None:
    upgrade(empty_url, "0010")
    with engine.begin() as conn:
        for name, role in (("ana", "staff"), ("bruno", "readonly")):
            conn.execute(
                text(
                    "INSERT INTO staff_users (username, password_hash, role, failed_logins,"
                    " created_at, session_version) VALUES (:n, 'scrypt$x', :r, 0, :now, 0)"
                ),
                {"n": name, "r": role, "now": NOW},
            )
    upgrade(empty_url, "0011")
    assert roles(engine) == [("ana", "owner"), ("bruno", "viewer")]
    assert "language" in {c["name"] for c in inspect(engine).get_columns("staff_users")}
    downgrade(empty_url, "0010")
    engine.dispose()
    assert roles(engine) == [("ana", "staff"), ("bruno", "readonly")]
    assert "language" not in {c["name"] for c in inspect(engine).get_columns("staff_users")}

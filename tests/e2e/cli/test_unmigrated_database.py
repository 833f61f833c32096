"""The CLI against a database that was never migrated: the error says what to do.

Split from tests/unit/test_config.py: it opens a (SQLite) database, so it is not a unit test.
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from bot.cli import main


def test_an_unmigrated_database_is_named_with_what_to_do(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/empty.db"}
    result = CliRunner().invoke(main, ["apikey", "create", "shop"], env=env)
    assert result.exit_code == 1
    assert "is behind this version: run `npsbot db upgrade`" in result.output
    assert "Traceback" not in result.output

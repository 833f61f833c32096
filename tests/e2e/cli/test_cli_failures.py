"""Every CLI failure is one line saying what to do, with exit code 1 (2 for a bad option) — never
a traceback; and `npsbot serve` checks what it needs before it says "serving"."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import main


@pytest.fixture
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A fresh clone's settings: SQLite in a temp dir, nothing else set."""
    for name in ("PORT", "SURVEYS_FILE", "BUSINESS_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/npsbot.db")
    monkeypatch.chdir(tmp_path)  # no developer's .env
    return CliRunner()


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


def one_line(result: Result, code: int, *needles: str) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    error = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error) == 1, result.output
    for needle in needles:
        assert needle in error[0], result.output


def test_db_upgrade_says_it_created_the_schema_then_that_it_is_up_to_date(
    fresh: CliRunner,
) -> None:
    first = fresh.invoke(main, ["db", "upgrade"])
    assert first.exit_code == 0 and first.output == "created the database schema\n"
    again = fresh.invoke(main, ["db", "upgrade"])
    assert again.exit_code == 0 and again.output == "database is up to date\n"


def test_db_upgrade_names_a_missing_folder(fresh: CliRunner, tmp_path: Path) -> None:
    result = fresh.invoke(main, ["db", "upgrade"], env={"DATABASE_URL": "sqlite:///nope/x/a.db"})
    one_line(result, 1, "no such folder", str(tmp_path / "nope" / "x"), "create it")


def test_export_to_a_missing_folder_names_it(fresh: CliRunner) -> None:
    assert fresh.invoke(main, ["db", "upgrade"]).exit_code == 0
    one_line(fresh.invoke(main, ["export", "/nope/x.csv"]), 1, "no such folder: /nope")


@pytest.mark.parametrize("port", ["abc", "99999", "0", "-1"])
def test_a_bad_port_setting_is_named(fresh: CliRunner, port: str) -> None:
    assert fresh.invoke(main, ["db", "upgrade"]).exit_code == 0
    one_line(fresh.invoke(main, ["serve"], env={"PORT": port}), 1, "PORT", repr(port))


@pytest.mark.parametrize("port", ["99999", "0", "abc"])
def test_a_bad_port_option_is_named(fresh: CliRunner, port: str) -> None:
    one_line(fresh.invoke(main, ["serve", "--port", port]), 2, "'--port'")


def test_a_busy_port_is_refused_before_serving(fresh: CliRunner, busy_port: int) -> None:
    assert fresh.invoke(main, ["db", "upgrade"]).exit_code == 0
    result = fresh.invoke(main, ["serve", "--port", str(busy_port)])
    one_line(result, 1, f"127.0.0.1:{busy_port}", "--port or PORT")
    assert "serving" not in result.output


def test_serve_on_an_unmigrated_database_says_what_to_do(fresh: CliRunner) -> None:
    one_line(fresh.invoke(main, ["serve", "--port", "1"]), 1, "npsbot db upgrade")


@pytest.mark.parametrize("host", ["192.0.2.1"])  # TEST-NET-1: not this machine, no DNS
def test_a_host_it_cannot_listen_on_is_named(fresh: CliRunner, host: str) -> None:
    assert fresh.invoke(main, ["db", "upgrade"]).exit_code == 0
    one_line(fresh.invoke(main, ["serve", "--host", host]), 1, host, "check --host")

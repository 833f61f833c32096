"""What `npsbot serve` says before "serving on": one line each for an unset BUSINESS_NAME and for
a SURVEYS_FILE that differs from the database (which it never rewrites)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

NPSBOT = Path(sys.executable).with_name("npsbot")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def first_lines(env: dict[str, str], cwd: Path) -> list[str]:
    """What serve prints up to and including "serving on" (then it is stopped)."""
    lines: list[str] = []
    with subprocess.Popen(
        [NPSBOT, "serve", "--port", str(_free_port())],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.append(line.rstrip())
                if "serving on" in line:
                    break
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=15)
    assert any("serving on" in line for line in lines), lines
    return lines


@pytest.fixture
def env(tmp_path: Path, sqlite_template: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in {"SURVEYS_FILE", "BUSINESS_NAME"}}
    # A migrated database: the session's copy, not another process running `db upgrade`.
    shutil.copy(sqlite_template, tmp_path / "npsbot.db")
    base["DATABASE_URL"] = f"sqlite:///{tmp_path}/npsbot.db"
    return base


def test_serve_says_business_name_is_unset_and_the_file_differs(
    env: dict[str, str], tmp_path: Path
) -> None:
    first_lines(env, tmp_path)  # the first run creates the built-in survey
    surveys = tmp_path / "surveys.toml"
    surveys.write_text('[[survey]]\nkey = "post-purchase"\nname = "Renamed"\n', encoding="utf-8")
    lines = first_lines({**env, "SURVEYS_FILE": str(surveys)}, tmp_path)
    notes = lines[: next(i for i, x in enumerate(lines) if "serving on" in x)]
    assert [n for n in notes if n.startswith("BUSINESS_NAME is not set")], lines
    drift = [n for n in notes if n.startswith("SURVEYS_FILE differs")]
    assert len(drift) == 1 and f"npsbot surveys import {surveys}" in drift[0], lines
    show = subprocess.run(
        [NPSBOT, "surveys", "show"], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert '"name": "After a purchase"' in show.stdout  # serve did not rewrite it


def test_serve_says_nothing_when_all_is_set(env: dict[str, str], tmp_path: Path) -> None:
    lines = first_lines({**env, "BUSINESS_NAME": "Tienda Ejemplo"}, tmp_path)
    assert "serving on" in lines[0], lines

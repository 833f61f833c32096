"""The README's runnable shell blocks, run in order against a fresh `make run`-style server.

A block is runnable when the line before its ```sh fence is `<!-- runnable … -->`. In a block,
the `# ` lines right after a command are what it answers: `201 {json}` (a curl: status, then the
fields shown), `{json}` (a line of the output holds the fields shown) or text (`…` stands for
anything). Ids, keys and times are compared by kind only (a string, a number, null). The server is
a real `npsbot serve` on a free port, SQLite in a temp dir, no credentials; the commands run in a
temp dir, so a developer's `.env` plays no part, and share one shell's exported variables.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
README = ROOT / "README.md"
NPSBOT = Path(sys.executable).with_name("npsbot")
MARKER = re.compile(r"^<!-- runnable\b.*-->\s*$")
# Settings a developer's shell may hold that a fresh clone does not have.
FOREIGN = ("TWILIO_", "TELEGRAM_", "STAFF_", "REDIS_", "SURVEYS_FILE", "BUSINESS_NAME", "PORT")


@dataclass(frozen=True)
class Step:
    line: int  # in README.md, for the failure message
    command: str
    expected: str  # "" when the README shows no output


def runnable_steps(text: str) -> list[Step]:
    lines = text.splitlines()
    steps: list[Step] = []
    for i, line in enumerate(lines):
        if not MARKER.match(line) or not lines[i + 1].startswith("```sh"):
            continue
        j = i + 2
        command: list[str] = []
        expected: list[str] = []
        start = j
        while not lines[j].startswith("```"):
            if lines[j].lstrip().startswith("#") and command:
                expected.append(lines[j].lstrip()[1:].strip())
            else:
                if expected:
                    steps.append(Step(start + 1, "\n".join(command), " ".join(expected)))
                    command, expected, start = [], [], j
                command.append(lines[j])
            j += 1
        if command:
            steps.append(Step(start + 1, "\n".join(command), " ".join(expected)))
    return steps


def masked(key: str) -> bool:
    return key in {"id", "key"} or key.endswith(("_id", "_at", "_key", "_link"))


def contains(actual: Any, shown: Any, key: str = "") -> bool:
    """Does ACTUAL answer what the README SHOWS (every field shown; masked ones by kind)?"""
    if masked(key):
        return (actual is None) == (shown is None) and (
            shown is None or type(actual) is type(shown)
        )
    if isinstance(shown, dict):
        return isinstance(actual, dict) and all(
            k in actual and contains(actual[k], v, k) for k, v in shown.items()
        )
    return bool(actual == shown)


def check(step: Step, output: str) -> None:
    where = f"README.md line {step.line}: {step.command!r} answered\n{output}"
    status = re.match(r"^(\d{3}) (.*)$", step.expected)
    if status:
        body, _, code = output.rstrip().rpartition("\n")
        assert code == status.group(1), where
        assert contains(json.loads(body), json.loads(status.group(2))), where
    elif step.expected.startswith("{"):
        shown = json.loads(step.expected)
        answers = [json.loads(x) for x in output.splitlines() if x.startswith("{")]
        assert any(contains(a, shown) for a in answers), where
    elif step.expected:
        pattern = ".*".join(re.escape(p) for p in step.expected.split("…"))
        assert re.search(pattern, " ".join(output.split()), re.S), where


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """`make run` without make: `npsbot db upgrade`, then `npsbot serve` (logs in tmp_path)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN)}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path}/npsbot.db"
    env.pop("SECRET_KEY", None)
    subprocess.run([NPSBOT, "db", "upgrade"], env=env, cwd=tmp_path, check=True, timeout=60)
    port = _free_port()
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [NPSBOT, "serve", "--port", str(port)], env=env, cwd=tmp_path, stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "npsbot serve did not start in 30 s"
                time.sleep(0.05)
        yield port, env
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_the_readme_marks_runnable_blocks() -> None:
    steps = runnable_steps(README.read_text(encoding="utf-8"))
    assert any("./npsbot" in s.command for s in steps)


def test_every_runnable_readme_block_answers_what_the_readme_shows(
    fresh_server: tuple[int, dict[str, str]], tmp_path: Path
) -> None:
    port, env = fresh_server
    state = tmp_path / "exports.sh"
    state.write_text("")
    for step in runnable_steps(README.read_text(encoding="utf-8")):
        command = step.command.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        command = command.replace("./npsbot", str(ROOT / "npsbot"))
        if re.match(r"^\d{3} ", step.expected):  # the status the README shows, on a last line
            command = command.replace("curl ", "curl -s -w '\\n%{http_code}' ", 1)
        script = f"set -e\n. {state}\n{command}\nexport -p > {state}\n"
        done = subprocess.run(
            ["bash", "-c", script],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        output = done.stdout + done.stderr
        assert done.returncode == 0, f"README.md line {step.line}: {step.command!r}\n{output}"
        check(step, done.stdout)

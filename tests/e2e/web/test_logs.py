"""What the process's logs show: no API key, no full phone number, no client-library chatter.

Real log lines: gunicorn's access log of a running `npsbot serve`, and the Twilio channel's
lines (the real twilio client against the loopback fake) through `setup_logging`'s handler.
"""

from __future__ import annotations

import io
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from base64 import b64encode
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import settings_from
from bot.logs import setup_logging
from channels.base import Outbound
from channels.errors import SendError
from channels.twilio import build_sms
from tests.e2e.channels.rows_sms import CUSTOMER, settings
from tests.fakes.base import SPECS, Answer
from tests.fakes.twilio_api import FakeTwilio, error

KEY = "nps_Zk3vQ0aR9xW2mB7cT5yL1pN8sD4fH6jK0gE2uI3oPqA"  # the shape `npsbot key create` gives
LAST4 = CUSTOMER[-4:]
QUIETED = ("httpx", "channels.twilio.http", "twilio.http_client", "apscheduler")


@pytest.fixture
def process_log() -> Iterator[io.StringIO]:
    """What `setup_logging`'s handler writes (to a buffer instead of stderr); undone after."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level, {n: logging.getLogger(n).level for n in QUIETED}
    setup_logging(settings_from(settings("http://127.0.0.1:9")))
    buffer = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    try:
        yield buffer
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
        for name, level in saved[2].items():
            logging.getLogger(name).setLevel(level)


@pytest.mark.skipif(not SPECS.is_dir(), reason=f"provider specs not found at {SPECS}")
def test_a_twilio_error_naming_the_number_logs_only_its_last_four_digits(
    process_log: io.StringIO,
) -> None:
    with FakeTwilio() as fake:
        channel = build_sms(settings_from(settings(fake.url)))
        assert channel is not None
        message = f"The 'To' number {CUSTOMER} is not a valid phone number."
        fake.queue(Answer(), Answer(400, error(21211, message=message)))
        channel.send(Outbound(channel="sms", to=CUSTOMER, text="Hola"))
        with pytest.raises(SendError):
            channel.send(Outbound(channel="sms", to=CUSTOMER, text="Hola"))
    err = process_log.getvalue()
    assert "error 21211" in err, "the test must log Twilio's error"
    assert CUSTOMER not in err and CUSTOMER[1:] not in err
    assert f"+{'*' * (len(CUSTOMER) - 5)}{LAST4}" in err
    # The client library's request lines (method, URL, ~11 headers per send) stay out.
    assert "channels.twilio.http" not in err and "Request" not in err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _get(url: str, headers: dict[str, str] | None = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=5):
            return 200
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the server's log, not storage
def test_the_access_log_masks_api_keys_and_phone_numbers(database_url: str, tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "s" * 32,
        "SCHEDULER_ENABLED": "false",
        "SANDBOX_ENABLED": "false",
    }
    out = (tmp_path / "out.log").open("w+")
    cmd = [sys.executable, "-c", "from bot.cli import main; main()", "serve", "--host", "127.0.0.1"]
    proc = subprocess.Popen(
        [*cmd, "--port", str(port), "--threads", "2"], env=env, stdout=out, stderr=out
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                _get(f"{base}/healthz")
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "serve did not start"
                time.sleep(0.2)
        basic = b64encode(f"{KEY}:".encode()).decode()
        codes = [
            _get(f"{base}/api/v1/nps?api_key={KEY}"),
            _get(f"{base}/api/v1/nps", {"Authorization": f"Basic {basic}"}),
            _get(f"{base}/api/v1/nps?phone=%2B5215512345678"),
        ]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    out.seek(0)
    log = out.read()
    out.close()
    assert codes == [401, 401, 401]
    access = [line for line in log.splitlines() if '"GET /api/v1/' in line]
    assert len(access) == 3, log
    assert KEY not in log and KEY[4:20] not in log
    # The server's threads may write the three lines in any order.
    assert any("api_key=nps_***" in line for line in access)
    assert any(" nps_*** " in line for line in access)  # gunicorn's %(u)s: the Basic-auth user
    assert "5215512345678" not in log
    assert any("phone=%2B*********5678" in line for line in access)

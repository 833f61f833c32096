"""The fault suite's world: a real `npsbot serve` process on a scratch PostgreSQL cluster, the
loopback fake providers, customers with a survey open, and senders that behave like Twilio and
Telegram. It counts what the reliability promises are about: requests tried, 5xx, lost,
doubled, stranded.

Twilio's sender sends each webhook once and retries only a failed connection, at most 5 times
within 15 s (`#rc=5&rp=all&tt=15000`); a 5xx is final (the message is lost for the customer).
Telegram's sender keeps one queue and re-sends its head until it is answered 2xx.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl, urlencode

from sqlalchemy import create_engine, text

from bot.bootstrap import build_runtime
from bot.config import VARIABLES, normalise_database_url, settings_from
from bot.storage.migrate import upgrade
from channels.telegram.admin import SECRET_HEADER, webhook_secret
from tests.e2e.channels import rows_sms, rows_telegram
from tests.e2e.faults.pgcluster import free_port
from tests.fakes.bot_api import FakeBotApi
from tests.fakes.twilio_api import FakeTwilio
from tests.helpers import open_survey

ROOT = Path(__file__).resolve().parents[3]
PAYLOADS = ROOT / "tests" / "payloads"
TWILIO_RETRIES, TWILIO_WINDOW = 5, 15.0  # `#rc=5&rp=all&tt=15000`
SERVE = (sys.executable, "-c", "from bot.cli import main; main()", "serve", "--host", "127.0.0.1")
MESSAGES = ("9", "Muy buena atención")  # a score, then the reason asked for
LEASE_SECONDS = 8  # DISPATCH_LEASE_SECONDS of the server under test


@dataclass
class Figures:
    tried: int = 0  # HTTP requests sent, re-sends included
    status: Counter[int] = field(default_factory=Counter)  # 0: the connection failed
    acked: dict[str, str] = field(default_factory=dict)  # provider id -> customer
    given_up: list[str] = field(default_factory=list)  # Twilio stopped retrying: never acked
    inline: Counter[str] = field(default_factory=Counter)  # replies in TwiML, per customer
    twilio_5xx: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def five_xx(self) -> int:
        return sum(n for s, n in self.status.items() if s >= 500)


@dataclass(frozen=True)
class Customer:
    channel: str  # sms | whatsapp | telegram
    address: str  # as stored: +E164, or the Telegram chat id


class World:
    def __init__(self, admin_url: str, tmp: Path, twilio: FakeTwilio, bot: FakeBotApi) -> None:
        self.url = admin_url
        self.tmp = tmp
        self.port = free_port()
        self.twilio, self.bot = twilio, bot
        env = {k: v for k, v in os.environ.items() if k not in VARIABLES}
        env.update(rows_sms.settings(twilio.url))
        env.update(rows_telegram.settings(bot.url))
        env.update(
            {
                "PYTHONPATH": str(ROOT),
                "DATABASE_URL": admin_url,
                "SECRET_KEY": "faults-secret-key-0123456789",
                "SANDBOX_ENABLED": "false",
                "PUBLIC_BASE_URL": f"http://127.0.0.1:{self.port}",
                "SPOOL_DIR": str(tmp / "spool"),
                "LOG_LEVEL": "WARNING",
                "DATABASE_POOL_SIZE": "12",
                # Short leases: a reply a killed server left `sending` becomes `unknown` in
                # seconds, within the test, instead of the default two minutes.
                "DISPATCH_LEASE_SECONDS": str(LEASE_SECONDS),
            }
        )
        self.env = env
        self.settings = settings_from(env)
        self.figures = Figures()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log: IO[bytes] = (tmp / "serve.log").open("ab")
        self._ids = iter(range(1, 10**9))
        upgrade(admin_url)

    # --- the server -----------------------------------------------------------------------
    def start(self) -> None:
        self.proc = subprocess.Popen(
            [*SERVE, "--port", str(self.port)],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=self.log,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status, _ = self._request("GET", "/healthz", b"", {})
            if status:
                return
            time.sleep(0.1)
        raise AssertionError(f"npsbot serve did not start; see {self.tmp / 'serve.log'}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()

    # --- customers and their messages ----------------------------------------------------
    def customers(self, per_channel: int) -> list[Customer]:
        rt = build_runtime(self.settings)
        try:
            out = []
            for i in range(per_channel):
                out += [
                    Customer("sms", f"+5215500{i:06d}"),
                    Customer("whatsapp", f"+5215510{i:06d}"),
                    Customer("telegram", f"77{i:08d}"),
                ]
            for c in out:
                open_survey(rt, c.channel, c.address)
            return out
        finally:
            rt.close()

    def twilio_form(self, c: Customer, body: str) -> dict[str, str]:
        sid = f"SM{next(self._ids):032x}"
        name = "wa_text.form" if c.channel == "whatsapp" else "sms_text.form"
        form = dict(parse_qsl((PAYLOADS / "twilio" / name).read_text().strip()))
        sender = f"whatsapp:{c.address}" if c.channel == "whatsapp" else c.address
        form.update(MessageSid=sid, SmsSid=sid, SmsMessageSid=sid, From=sender, Body=body)
        if c.channel == "whatsapp":
            form["WaId"] = c.address.lstrip("+")
        return form

    def telegram_update(self, c: Customer, body: str) -> dict[str, Any]:
        n = next(self._ids)
        update: dict[str, Any] = json.loads(
            (PAYLOADS / "telegram" / "message_text.json").read_text()
        )
        update["update_id"] = 900_000_000 + n
        msg = update["message"]
        msg.update(message_id=n, text=body, date=int(time.time()))
        msg["from"]["id"] = msg["chat"]["id"] = int(c.address)
        return update

    # --- sending, as each provider does ----------------------------------------------------
    def send_twilio(self, c: Customer, body: str) -> None:
        form = self.twilio_form(c, body)
        raw = urlencode(form).encode()
        url = f"http://127.0.0.1:{self.port}/webhooks/twilio"
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            **rows_sms.sign(url, form, raw, self.settings),
        }
        started = time.monotonic()
        for _ in range(1 + TWILIO_RETRIES):
            status, answer = self._request("POST", "/webhooks/twilio", raw, headers)
            self._count(status)
            if status == 200:
                with self.figures.lock:
                    self.figures.acked[form["MessageSid"]] = c.address
                    self.figures.inline[c.address] += answer.count(b"<Message>")
                return
            if status >= 500:
                with self.figures.lock:
                    self.figures.twilio_5xx += 1
            if status or time.monotonic() - started > TWILIO_WINDOW:
                break  # an HTTP answer other than 200 is final; so is the end of `tt`
            time.sleep(1.0)
        with self.figures.lock:
            self.figures.given_up.append(form["MessageSid"])

    def send_telegram(self, c: Customer, body: str) -> None:
        update = self.telegram_update(c, body)
        raw = json.dumps(update).encode()
        headers = {"Content-Type": "application/json", SECRET_HEADER: webhook_secret(self.settings)}
        while True:  # Telegram retries for hours; the test's deadline bounds it
            status, _ = self._request("POST", "/webhooks/telegram", raw, headers)
            self._count(status)
            if 200 <= status < 300:
                with self.figures.lock:
                    self.figures.acked[str(update["update_id"])] = c.address
                return
            time.sleep(0.5)

    def _count(self, status: int) -> None:
        with self.figures.lock:
            self.figures.tried += 1
            self.figures.status[status] += 1

    def _request(
        self, method: str, path: str, body: bytes, headers: Mapping[str, str]
    ) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        try:
            conn.request(method, path, body=body, headers=dict(headers))
            r = conn.getresponse()
            return r.status, r.read()
        except OSError:
            return 0, b""  # refused, reset or timed out: the provider saw no answer
        finally:
            conn.close()

    # --- what happened ------------------------------------------------------------------------
    def spool_empty(self) -> bool:
        spool = self.tmp / "spool"
        return not spool.is_dir() or not any(
            n.endswith((".jsonl", ".replay")) and n != "rejected.jsonl" for n in os.listdir(spool)
        )

    def replies(self) -> Counter[str]:
        """Replies each customer got: inline TwiML, and what reached the fake providers."""
        got = Counter(self.figures.inline)
        for r in list(self.twilio.requests):
            if r.method == "POST" and r.path.endswith("/Messages.json"):
                got[str(r.form.get("To", "")).removeprefix("whatsapp:")] += 1
        for r in list(self.bot.requests):
            if self.bot.method(r) == "sendMessage":
                got[str(r.form.get("chat_id"))] += 1
        return got

    def stored(self) -> tuple[Counter[str], int]:
        """Inbound messages stored per provider id, and outbox rows still `sending`."""
        engine = create_engine(normalise_database_url(self.url))
        try:
            with engine.connect() as conn:
                rows = conn.execute(
                    text(
                        "SELECT provider_id, count(*) FROM messages WHERE direction = 'in' "
                        "GROUP BY provider_id"
                    )
                ).all()
                sending = conn.execute(
                    text("SELECT count(*) FROM messages WHERE status = 'sending'")
                ).scalar_one()
        finally:
            engine.dispose()
        return Counter({str(p): int(n) for p, n in rows}), int(sending)

    def unknown(self) -> int:
        """Outbox rows a lapsed lease made `unknown` (listed by `npsbot outbox unknown`)."""
        engine = create_engine(normalise_database_url(self.url))
        try:
            with engine.connect() as conn:
                return int(
                    conn.execute(
                        text("SELECT count(*) FROM messages WHERE status = 'unknown'")
                    ).scalar_one()
                )
        finally:
            engine.dispose()

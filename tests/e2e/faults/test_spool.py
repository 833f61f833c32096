"""The inbound spool, in process: a Twilio webhook the database cannot take is kept, answered
200 and replayed in arrival order once it can; bad input is never spooled; a full spool answers
503. The database goes away as a disk does: its folder disappears."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from bot.inbound import spool
from bot.runtime import Runtime
from bot.storage.models import Message, Response
from bot.web.app import create_app
from channels.base import WebRequest
from tests.conftest import make_settings
from tests.e2e.channels import rows_sms
from tests.helpers import open_survey

WEBHOOK = "http://localhost/webhooks/twilio"
FORM = dict(
    parse_qsl((Path(__file__).parents[2] / "payloads/twilio/sms_text.form").read_text().strip())
)
EMPTY_TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response/>'


class Outage:
    """The database's folder renamed away, as an unmounted disk: connecting fails with
    `unable to open database file` (an OperationalError) until `end`. Each step is one
    rename, so the replayer, retrying every second, never finds the path free and creates
    an empty database there (which it would then keep in its pool)."""

    def __init__(self, rt: Runtime, path: Path) -> None:
        self.rt, self.home = rt, path.parent
        self.away = self.home.with_name(self.home.name + "-away")

    def begin(self) -> None:
        self.rt.db.engine.dispose()  # pooled connections would keep the old file open
        self.home.rename(self.away)

    def end(self) -> None:
        self.away.rename(self.home)


@pytest.fixture
def app(tmp_path: Path, sqlite_template: Path) -> Iterator[Flask]:
    db = tmp_path / "data" / "npsbot.db"
    db.parent.mkdir()
    shutil.copy(sqlite_template, db)
    conf = make_settings(
        f"sqlite:///{db}",
        **rows_sms.settings("http://127.0.0.1:9"),  # never called: replies are only queued
        PUBLIC_BASE_URL="http://localhost",
        SPOOL_DIR=str(tmp_path / "spool"),
        SPOOL_MAX_ENTRIES="3",
        SCHEDULER_ENABLED="false",
    )
    app = create_app(conf)
    yield app
    app.extensions["npsbot"].close()


@pytest.fixture
def rt(app: Flask) -> Runtime:
    runtime: Runtime = app.extensions["npsbot"]
    return runtime


@pytest.fixture
def outage(rt: Runtime, tmp_path: Path) -> Outage:
    return Outage(rt, tmp_path / "data" / "npsbot.db")


def post(client: FlaskClient, rt: Runtime, sid: str, body: str, **extra: str) -> TestResponse:
    form = {**FORM, "MessageSid": sid, "SmsSid": sid, "SmsMessageSid": sid, "Body": body, **extra}
    raw = urlencode(form).encode()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        **rows_sms.sign(WEBHOOK, form, raw, rt.settings),
    }
    return client.post(WEBHOOK, data=raw, headers=headers)


def drained(rt: Runtime, seconds: float = 10.0) -> None:
    """Wait for the process's replayer thread to empty the spool (it retries every second)."""
    deadline = time.monotonic() + seconds
    while spool.files(spool.spool_dir(rt.settings)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not spool.files(spool.spool_dir(rt.settings)), "the spool was not replayed"


def inbound(rt: Runtime) -> list[str]:
    with rt.db.session() as s:
        return list(
            s.scalars(select(Message.text).where(Message.direction == "in").order_by(Message.id))
        )


def test_webhooks_the_database_cannot_take_are_acknowledged_and_replayed_in_order(
    client: FlaskClient, rt: Runtime, outage: Outage
) -> None:
    open_survey(rt, "sms", rows_sms.CUSTOMER)
    outage.begin()
    first = post(client, rt, "SM" + "1" * 32, "9")
    second = post(client, rt, "SM" + "2" * 32, "Muy buena atención")
    assert (first.status_code, first.data) == (200, EMPTY_TWIML)
    assert (second.status_code, second.data) == (200, EMPTY_TWIML)
    outage.end()
    # The database is back before the next webhook: it still waits behind the spooled ones.
    third = post(client, rt, "SM" + "3" * 32, "gracias")
    assert (third.status_code, third.data) == (200, EMPTY_TWIML)
    drained(rt)

    assert inbound(rt) == ["9", "Muy buena atención", "gracias"]
    with rt.db.session() as s:
        response = s.scalars(select(Response)).one()
        # In arrival order: the score first, then the reason in two messages.
        assert (response.score, response.comment) == (9, "Muy buena atención\ngracias")
        # The replies leave through the outbox: the webhooks were answered already.
        replies = s.scalars(select(Message).where(Message.direction == "out")).all()
        assert replies and all(m.status == "queued" for m in replies)


def test_a_replayed_webhook_that_was_in_fact_stored_is_not_doubled(
    client: FlaskClient, rt: Runtime
) -> None:
    open_survey(rt, "sms", rows_sms.CUSTOMER)
    sid = "SM" + "4" * 32
    assert post(client, rt, sid, "9").status_code == 200
    form = {**FORM, "MessageSid": sid, "SmsSid": sid, "SmsMessageSid": sid, "Body": "9"}
    req = WebRequest("POST", WEBHOOK, {}, form, urlencode(form).encode())
    assert spool.writer(rt.settings).append("twilio", req)

    assert spool.replay(rt, spool.spool_dir(rt.settings)) == 1
    assert inbound(rt) == ["9"]
    with rt.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Response)) == 1


def test_a_webhook_stored_but_never_answered_gets_its_replies_through_the_outbox(
    client: FlaskClient, rt: Runtime
) -> None:
    # The message was committed with its inline replies, then the answer was lost and the
    # webhook spooled (answered empty): on replay the replies leave through the API instead.
    open_survey(rt, "sms", rows_sms.CUSTOMER)
    sid = "SM" + "5" * 32
    answered = post(client, rt, sid, "9")
    assert b"<Message>" in answered.data
    form = {**FORM, "MessageSid": sid, "SmsSid": sid, "SmsMessageSid": sid, "Body": "9"}
    req = WebRequest("POST", WEBHOOK, {}, form, urlencode(form).encode())
    assert spool.writer(rt.settings).append("twilio", req)

    assert spool.replay(rt, spool.spool_dir(rt.settings)) == 1
    assert inbound(rt) == ["9"]
    with rt.db.session() as s:
        replies = s.scalars(select(Message).where(Message.direction == "out")).all()
        assert len(replies) == 1 and replies[0].status == "queued"
    # A later redelivery Twilio makes itself is answered inline, with the same one reply.
    again = post(client, rt, sid, "9")
    assert again.data.count(b"<Message>") == 1


def test_a_full_spool_answers_503_and_says_so(
    client: FlaskClient, rt: Runtime, outage: Outage
) -> None:
    outage.begin()
    try:
        answers = [post(client, rt, f"SM{n:032x}", "hola").status_code for n in range(4)]
        full = post(client, rt, "SM" + "f" * 32, "hola")
    finally:
        outage.end()
    assert answers == [200, 200, 200, 503]  # SPOOL_MAX_ENTRIES=3
    assert full.json == {"error": "storage_unavailable", "reason": "spool full, retry later"}
    drained(rt)
    assert len(inbound(rt)) == 3


def test_bad_input_is_refused_as_before_never_spooled(
    client: FlaskClient, rt: Runtime, outage: Outage
) -> None:
    outage.begin()
    try:
        forged = client.post(WEBHOOK, data={**FORM}, headers={"X-Twilio-Signature": "forged"})
        no_sid = post(client, rt, "", "hola")
    finally:
        outage.end()
    assert forged.status_code == 403
    assert no_sid.status_code == 400
    assert not spool.files(spool.spool_dir(rt.settings))


def test_entries_replay_in_arrival_order_across_processes_and_a_torn_line_is_skipped(
    rt: Runtime, tmp_path: Path
) -> None:
    open_survey(rt, "sms", rows_sms.CUSTOMER)
    directory = tmp_path / "two"
    one, two = (spool.Spool(directory, 10**6, 100) for _ in range(2))  # two processes' writers
    for n, (writer, body) in enumerate([(one, "9"), (two, "primero"), (one, "segundo")]):
        sid = f"SM{n:032x}"
        form = {**FORM, "MessageSid": sid, "SmsSid": sid, "SmsMessageSid": sid, "Body": body}
        assert writer.append("twilio", WebRequest("POST", WEBHOOK, {}, form, b""))
    with spool.files(directory)[0].open("ab") as f:
        f.write(b'{"at": 1, "torn by a crash')  # no newline: never acknowledged

    assert spool.replay(rt, directory) == 3
    assert inbound(rt) == ["9", "primero", "segundo"]
    assert spool.files(directory) == []


def test_an_entry_no_retry_can_apply_is_kept_aside_not_retried_forever(
    rt: Runtime, tmp_path: Path
) -> None:
    directory = tmp_path / "gone"
    assert spool.Spool(directory, 10**6, 100).append(
        "retired", WebRequest("POST", "http://localhost/webhooks/retired", {}, {}, b"")
    )
    assert spool.replay(rt, directory) == 1
    assert spool.files(directory) == []
    assert (directory / spool.REJECTED).read_bytes().count(b"\n") == 1

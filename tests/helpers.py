"""Small helpers that make tests read like the customer's side of a chat."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, select, text

from bot.config import normalise_database_url
from bot.events import RecordingBus
from bot.runtime import Runtime
from bot.storage.models import AuditEvent, ContactChannel, Invitation, Message, Response
from bot.survey.rules import Reach, contact_zone, outside_quiet_hours, present, send_quiet
from scheduler.loop import tick
from tests.conftest import Clock, make_settings


class SandboxCustomer:
    """A customer on the sandbox channel, driven through the real HTTP endpoints."""

    def __init__(
        self, client: FlaskClient, rt: Runtime, *, language: str = "es", name: str = "Ana"
    ):
        self.client, self.rt = client, rt
        r = client.post("/sandbox/purchase", json={"name": name, "language": language})
        assert r.status_code == 201, r.json
        self.address: str = r.json["address"]  # type: ignore[index]
        self.invitation_id: int = r.json["invitation_id"]  # type: ignore[index]

    def receive_survey(self) -> str:
        tick(self.rt)
        return self.last_received()

    def says(self, text: str, *, id: str | None = None, button: str | None = None) -> list[str]:
        body: dict[str, Any] = {"id": id or uuid.uuid4().hex, "from": self.address, "text": text}
        if button:
            body["button"] = button
        r = self.client.post("/webhooks/sandbox", json=body)
        assert r.status_code == 200, r.json
        return [reply["text"] for reply in r.json["replies"]]  # type: ignore[index]

    def last_received(self) -> str:
        with self.rt.db.session() as s:
            row = s.scalar(
                select(Message)
                .where(Message.address == self.address, Message.direction == "out")
                .order_by(Message.id.desc())
            )
            return row.text if row else ""

    def invitation(self) -> Invitation:
        with self.rt.db.session() as s:
            inv = s.get(Invitation, self.invitation_id)
            assert inv is not None
            return inv

    def response(self) -> Response | None:
        with self.rt.db.session() as s:
            return s.scalar(select(Response).where(Response.invitation_id == self.invitation_id))


def first_send(rt: Runtime, inv_id: int) -> datetime:
    """When the rules let the invitation go out if it is due now: now, or the first minute after
    the quiet hours in its customer's zone (for a test about something else than quiet hours)."""
    now = rt.clock()
    with rt.db.session() as s:
        inv = s.get(Invitation, inv_id)
        assert inv is not None
        rows = s.scalars(select(ContactChannel).where(ContactChannel.contact_id == inv.contact_id))
        known = {cc.channel: Reach(cc.address, last_inbound=cc.last_inbound_at) for cc in rows}
        quiet = send_quiet(inv.survey.options, inv.channels, present=present(known, now))
        return outside_quiet_hours(now, contact_zone(inv.contact), quiet)


def send_due(rt: Runtime, clock: Clock, inv_id: int) -> None:
    """Run the scheduler for an invitation due now. At night in the customer's zone, first
    check it waits, deferred to the morning without spending an attempt, then move `clock` to
    that morning and run it again."""
    morning = first_send(rt, inv_id)
    tick(rt)
    if morning > clock():
        with rt.db.session() as s:
            inv = s.get(Invitation, inv_id)
            assert inv is not None
            assert (inv.state, inv.due_at, inv.attempts, inv.sent_at) == (
                "scheduled",
                morning,
                0,
                None,
            ), "at night the survey waits for the morning"
            assert s.scalar(select(Message).where(Message.invitation_id == inv_id)) is None
        clock.now = morning
        tick(rt)


def open_survey(rt: Runtime, channel: str, address: str, *, language: str = "es") -> int:
    """A contact on `channel` at `address` with a survey already asked there; its invitation id."""
    from datetime import timedelta

    from bot.storage.models import Contact, InvitationState
    from bot.survey.contacts import PHONE_CHANNELS, ensure_channel
    from bot.survey.purchases import create_invitation, survey_by_key

    now = rt.clock()
    with rt.db.session() as s:
        contact = Contact(
            name="Ana",
            language=language,
            phone=address if channel in PHONE_CHANNELS and address.startswith("+") else None,
            telegram_chat_id=address if channel == "telegram" else None,
            created_at=now,
        )
        s.add(contact)
        s.flush()
        ensure_channel(s, contact, channel, address)
        survey = survey_by_key(s, rt.surveys[0].key)
        assert survey is not None
        inv = create_invitation(s, survey, contact, now=now, delay_minutes=0, channels=[channel])
        inv.state = InvitationState.ASKED
        inv.channel = channel
        inv.sent_at = now
        inv.expires_at = now + timedelta(hours=72)
        return inv.id


def write_blockers(url: str) -> list[str]:
    """What keeps another connection from writing to the database at `url` now: a test that a
    provider call runs outside every transaction asks it from the loopback fake."""
    if url.startswith("sqlite"):
        probe = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=0)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.rollback()
        except sqlite3.OperationalError as exc:
            return [f"sqlite: {exc}"]
        finally:
            probe.close()
        return []
    engine = create_engine(normalise_database_url(url))
    try:
        with engine.connect() as conn:
            states = conn.scalars(
                text(
                    "SELECT state FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'"
                )
            )
            return [f"postgresql: a session {s}" for s in states]
    finally:
        engine.dispose()


def audit_trail(rt: Runtime) -> list[tuple[str, str, str | None, str | None]]:
    """The audit trail, oldest first: (actor, action, target, source) of each row."""
    with rt.db.session() as s:
        rows = s.execute(
            select(
                AuditEvent.actor, AuditEvent.action, AuditEvent.target, AuditEvent.source
            ).order_by(AuditEvent.id)
        ).all()
    return [(actor, action, target, source) for actor, action, target, source in rows]


def audit_details(rt: Runtime) -> list[dict[str, Any]]:
    """Each audit row's `detail`, oldest first."""
    with rt.db.session() as s:
        return list(s.scalars(select(AuditEvent.detail).order_by(AuditEvent.id)))


def audit_text(rt: Runtime) -> str:
    """Everything the audit trail holds, as one text (to search it for what must not be there)."""
    with rt.db.session() as s:
        rows = s.scalars(select(AuditEvent).order_by(AuditEvent.id))
        return "\n".join(
            f"{e.actor} {e.action} {e.target} {e.source} {json.dumps(e.detail, ensure_ascii=False)}"
            for e in rows
        )


@contextmanager
def surveyed_app(
    database_url: str, clock: Clock, bus: RecordingBus, surveys: Path, text: str
) -> Iterator[Flask]:
    """An app with Twilio SMS (a provider that refuses every call) and the surveys in `text`
    (written to `surveys`), on the test's clock: the API tests' and the Delighted tests'."""
    from bot.web.app import create_app  # the web layer, only for the tests that need it
    from tests.e2e.channels.rows_sms import settings as twilio_settings

    surveys.write_text(text, encoding="utf-8")
    env = make_settings(
        database_url, **twilio_settings("http://127.0.0.1:9"), SURVEYS_FILE=str(surveys)
    )
    app = create_app(env, bus=bus)
    app.extensions["npsbot"].clock = clock
    try:
        yield app
    finally:
        app.extensions["npsbot"].close()

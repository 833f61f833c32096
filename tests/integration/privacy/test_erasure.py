"""Erasure (issue 20): a customer with a full history — a purchase, a survey sent on WhatsApp, a
detractor's score and comment, a case worked from the staff chat (card, reply, the customer's
answer relayed, a note), an opt-out, a consent, another survey scheduled — is erased; then no
table holds the phone number, the name or the comment (nor, on SQLite, the database file), the
NPS reports answer the same numbers, and staff are told in the card's thread."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, select, text
from sqlalchemy.engine import make_url

from bot.insights import filters, reports, rollup
from bot.privacy.erasure import Erased, NotFound, erase_contact
from bot.staff.cases import Actor
from bot.staff.desk import act
from bot.storage.models import (
    AuditEvent,
    Base,
    Consent,
    Contact,
    ContactChannel,
    Invitation,
    Message,
    Response,
    StaffRole,
)
from bot.survey.purchases import create_invitation, survey_by_key
from tests.conftest import Clock
from tests.e2e.channels.rows_sms import CUSTOMER
from tests.e2e.staff.world import LUIS, STAFF, World, make_world
from tests.fakes.base import SPECS

pytestmark = pytest.mark.skipif(not SPECS.is_dir(), reason=f"provider specs not found at {SPECS}")

NAME = "Zoraida Quintanilla"
COMMENT = "la licuadora QX7 llego destrozada"
OWNER = Actor("dashboard:1", "Olga", StaffRole.OWNER)
# What must be gone: the phone as E.164, without "+", and national; the name; the comment.
NEEDLES = (CUSTOMER, CUSTOMER[1:], CUSTOMER[-10:], NAME, "Zoraida", COMMENT, "QX7")


@pytest.fixture
def world(database_url: str, clock: Clock, tmp_path: Path) -> Iterator[World]:
    yield from make_world(database_url, clock, tmp_path)


def full_history(world: World) -> tuple[int, int]:
    """The customer's whole life in npsbot; (contact id, case id)."""
    rt, now = world.rt, world.clock()
    with rt.db.session() as s:
        contact = Contact(name=NAME, phone=CUSTOMER, language="es", created_at=now)
        # Written to us lately (WhatsApp's 24 h window is open): the question goes as text.
        s.add(
            ContactChannel(
                contact=contact, channel="whatsapp", address=CUSTOMER, last_inbound_at=now
            )
        )
        s.add(contact)
        s.flush()
        survey = survey_by_key(s, "post-purchase")
        assert survey is not None
        meta = {"store": "Centro", "customer_email": "zq@example.com", "note": f"for {NAME}"}
        create_invitation(s, survey, contact, now=now, order_id="A-1", delay_minutes=0, meta=meta)
        s.add(Consent(contact_id=contact.id, channel="whatsapp", given=True, method="api", at=now))
        contact_id = contact.id
    world.tick()  # the question goes out on WhatsApp
    world.customer_says("3")
    world.customer_says(COMMENT)
    world.tick()  # the card reaches the staff chat
    case_id = world.case().id
    world.staff_replies(LUIS, world.card(), f"Hola {NAME.split()[0]}, te llamamos hoy")
    world.tick()
    world.customer_says("gracias, QX7 sigue roto")  # relayed into the card's thread
    act(rt, case_id, "note", OWNER, note=f"{NAME} pidio reembolso")
    world.customer_says("BAJA")
    with rt.db.session() as s:
        contact = s.get(Contact, contact_id)
        assert contact is not None
        survey = survey_by_key(s, "post-purchase")
        assert survey is not None
        later = create_invitation(s, survey, contact, now=now)
        assert later.state == "scheduled"
    return contact_id, case_id


def report(world: World) -> list[dict[str, Any]]:
    with world.rt.db.session() as s:
        f = filters.Filters()
        return [
            reports.nps_report(s, f),
            reports.themes(s, f),
            reports.breakdown(s, f, "channel"),
        ]


def rows_as_text(conn: Connection) -> dict[str, list[str]]:
    """Every row of every table as text: PostgreSQL's `row::text`, SQLite's columns joined."""
    out: dict[str, list[str]] = {}
    for table in Base.metadata.sorted_tables:
        if conn.dialect.name == "postgresql":
            rows = conn.execute(text(f"SELECT t::text FROM {table.name} t")).scalars()
            out[table.name] = list(rows)
        else:
            rows = conn.execute(text(f"SELECT * FROM {table.name}"))
            out[table.name] = ["|".join(map(str, row)) for row in rows]
    return out


def found(rows: dict[str, list[str]]) -> list[tuple[str, str]]:
    return [
        (table, needle)
        for table, texts in rows.items()
        for row in texts
        for needle in NEEDLES
        if needle.lower() in row.lower()
    ]


def test_an_erased_customer_leaves_an_anonymous_score_and_nothing_that_names_them(
    world: World, database_url: str
) -> None:
    contact_id, case_id = full_history(world)
    card = world.card()
    with world.rt.db.engine.connect() as conn:
        everywhere = {"contacts", "contact_channels", "messages", "responses", "invitations"}
        assert {t for t, _ in found(rows_as_text(conn))} >= everywhere | {"case_events"}
    with world.rt.db.session() as s:
        stopped = s.scalar(select(ContactChannel.opted_out_at))
        assert stopped is not None  # the BAJA
    world.clock.advance(days=2)  # the answers' day is in the rollup now
    with world.rt.db.session_for_update() as s:
        rollup.refresh_rollup(s, world.clock().date(), margin=timedelta(0))
    before = report(world)

    with world.rt.db.session_for_update() as s:
        erased = erase_contact(s, contact_id, at=world.clock(), actor="cli", source="cli")
    assert erased == Erased(
        contact_id,
        responses_kept=1,
        invitations_cancelled=1,  # the scheduled one; the answered one stays completed
        messages_scrubbed=erased.messages_scrubbed,
        cases_removed=1,
        open_case_ids=(case_id,),
    )
    assert erased.messages_scrubbed >= 8

    with world.rt.db.engine.connect() as conn:
        assert found(rows_as_text(conn)) == []
    with world.rt.db.session() as s:
        score = s.scalar(select(Response))
        assert score is not None
        assert (score.score, score.category, score.comment, score.contact_id) == (
            3,
            "detractor",
            None,
            None,
        )
        assert score.themes  # the comment's non-personal tags stay
        invs = s.scalars(select(Invitation).order_by(Invitation.id)).all()
        assert [(i.state, i.skip_reason, i.order_id) for i in invs] == [
            ("completed", None, "A-1"),
            ("skipped", "erased", None),
        ]
        assert invs[0].meta == {"store": "Centro"}
        tombstone = s.scalar(select(Message).where(Message.direction == "in").limit(1))
        assert tombstone is not None and tombstone.provider_id  # a redelivery stays a duplicate
        audit = s.scalar(select(AuditEvent).where(AuditEvent.action == "contact.erase"))
        assert audit is not None and audit.target == f"contact:{contact_id}"
        assert audit.detail["messages_scrubbed"] == erased.messages_scrubbed
    assert report(world) == before
    with world.rt.db.session_for_update() as s:
        rollup.refresh_rollup(s, world.clock().date(), margin=timedelta(0))
    assert report(world) == before

    # Staff are told, under the card, with no name; the notice goes out through the outbox.
    sent = len(world.telegram.requests)
    world.tick()
    notices = [f for m, f in world.sent_to(STAFF, after=sent) if m == "sendMessage"]
    assert [n["text"] for n in notices] == [
        f"🗑 The customer asked to erase their data: case #{case_id} closed."
    ]
    assert str(notices[0]["reply_parameters"]).find(card.rsplit(":", 1)[1]) >= 0

    with world.rt.db.session_for_update() as s, pytest.raises(NotFound):
        erase_contact(s, contact_id, at=world.clock(), actor="cli")
    assert world.rt.db.truncate_wal()  # as the API, the CLI and the dashboard do after one
    if database_url.startswith("sqlite"):
        world.rt.db.dispose()
        the_file_holds_none_of_it(make_url(database_url).database or "")

    # A message after the erasure starts a fresh, empty contact.
    world.customer_says("hola")
    with world.rt.db.session() as s:
        (fresh,) = s.scalars(select(Contact)).all()  # SQLite may give it the same id
        assert fresh.name == "Ana"  # the WhatsApp profile's, as for anyone new
        assert s.scalar(select(Invitation).where(Invitation.contact_id == fresh.id)) is None
        mine = s.scalars(select(Message.text).where(Message.contact_id == fresh.id)).all()
        assert "hola" in mine and not any("QX7" in t for t in mine)


def the_file_holds_none_of_it(path: str) -> None:
    """The bytes on disk hold no trace: `secure_delete` zeroed what the erasure deleted or
    overwrote, and the emptied write-ahead log keeps no page from before (no VACUUM needed)."""
    data = b"".join(Path(p).read_bytes() for p in (path, f"{path}-wal") if Path(p).exists()).lower()
    assert [n for n in NEEDLES if n.lower().encode() in data] == []
    conn = sqlite3.connect(path)
    try:
        conn.execute("VACUUM")  # and after a VACUUM (a rebuilt file) still none
    finally:
        conn.close()
    assert [n for n in NEEDLES if n.lower().encode() in Path(path).read_bytes().lower()] == []


def test_a_customer_erased_while_their_survey_is_being_sent_keeps_no_question_row(
    world: World,
) -> None:
    """The send is outside any transaction; the erasure lands meanwhile and skips the invitation;
    the dispatcher then records the send as a tombstone (its provider id only), not an error."""
    rt, now = world.rt, world.clock()
    with rt.db.session() as s:
        contact = Contact(name=NAME, phone=CUSTOMER, language="es", created_at=now)
        s.add(
            ContactChannel(
                contact=contact, channel="whatsapp", address=CUSTOMER, last_inbound_at=now
            )
        )
        s.flush()
        survey = survey_by_key(s, "post-purchase")
        assert survey is not None
        inv_id = create_invitation(s, survey, contact, now=now, delay_minutes=0).id
        contact_id = contact.id
    answer = world.twilio.default_body

    def erase_first(req: Any) -> Any:  # the provider's answer comes after the erasure
        if req.path.endswith("/Messages.json"):
            with rt.db.session_for_update() as s:
                erase_contact(s, contact_id, at=world.clock(), actor="cli")
        return answer(req)

    world.twilio.default_body = erase_first  # type: ignore[method-assign]
    world.tick()
    with rt.db.session() as s:
        inv = s.get(Invitation, inv_id)
        assert inv is not None and (inv.state, inv.skip_reason) == ("skipped", "erased")
        (row,) = s.scalars(select(Message)).all()
        assert (row.kind, row.address, row.text, row.contact_id) == ("question", "", "", None)
        assert row.provider_id and row.provider_id.startswith("SM")

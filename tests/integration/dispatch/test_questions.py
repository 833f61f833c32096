"""The NPS question the dispatcher sends and stores, built per batch (issue 7's fast path).

The parts shared by a survey, language and channel are worked out once; the invitation's own
(address, signed buttons, template variables) are filled in per invitation. These tests pin
what that must still produce: signed score buttons where the channel shows buttons, the text
alone where it does not, and a stored payload identical to `dataclasses.asdict`'s.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from flask.testing import FlaskClient
from sqlalchemy import select

from bot.runtime import Runtime
from bot.storage.messages import outbound_from_payload, outbound_payload
from bot.storage.models import Invitation, Message
from bot.survey.question import read_score
from bot.texts import texts_for
from channels.base import Button, Outbound, Template, render_text
from scheduler.dispatch import next_due, question
from tests.fakes.counting_channel import CountingChannel
from tests.helpers import SandboxCustomer

OPTIONS = {"whatsapp_templates": {"es": {"sid": "HX123", "variables": {"2": "Tienda"}}}}


def _question(rt: Runtime, channel: str, inv_id: int = 7) -> Outbound:
    texts = texts_for("es", {}, default="es", business="Tienda")
    return question(rt, inv_id, OPTIONS, "es", "Ana", channel, "addr-1", None, texts, rt.clock())


def test_a_question_on_a_channel_with_buttons_carries_eleven_signed_scores(rt: Runtime) -> None:
    msg = _question(rt, "sandbox", inv_id=7)
    flat = [b for row in msg.buttons for b in row]
    assert [b.label for b in flat] == [str(n) for n in range(11)]
    assert [read_score(rt.settings.secret_key, b.data) for b in flat] == [(7, n) for n in range(11)]
    assert read_score("another-secret-0123456789abcdef", flat[3].data) is None


def test_a_question_on_a_channel_without_buttons_is_its_text_alone(
    rt: Runtime, tmp_path: Path
) -> None:
    rt.channels["counting"] = CountingChannel(tmp_path / "sent.log")
    msg = _question(rt, "counting")
    assert msg.buttons == () and msg.buttons_optional
    assert render_text(msg) == msg.text  # what a channel without buttons sends anyway
    assert msg.ref == "inv-7" and msg.to == "addr-1"


def test_the_template_is_filled_with_the_customer_s_name(rt: Runtime) -> None:
    msg = _question(rt, "sandbox")
    assert msg.template == Template("HX123", {"1": "Ana", "2": "Tienda"})


def test_the_stored_payload_is_what_asdict_gives_and_reads_back_as_the_message() -> None:
    msg = Outbound(
        channel="telegram",
        to="42",
        text="¿Nos recomendarías?",
        buttons=((Button("0", "s:1:0:abc"), Button("1", "s:1:1:def")), (Button("2", "x"),)),
        buttons_optional=True,
        template=Template("HX1", {"1": "Ana"}),
        needs_template=True,
        ref="inv-1",
    )
    stored = json.loads(json.dumps(outbound_payload(msg)))
    assert stored == json.loads(json.dumps(asdict(msg)))
    assert outbound_from_payload(stored) == msg


def test_a_sent_question_is_stored_with_the_payload_it_was_sent_with(
    client: FlaskClient, rt: Runtime
) -> None:
    ana = SandboxCustomer(client, rt)
    ana.receive_survey()
    with rt.db.session() as s:
        row = s.scalar(
            select(Message).where(
                Message.invitation_id == ana.invitation_id, Message.kind == "question"
            )
        )
        assert row is not None
        sent = outbound_from_payload(row.payload)
        assert (row.direction, row.attempts, row.text) == ("out", 1, sent.text)
        assert row.created_at == row.status_at == row.next_attempt_at
        inv = s.get(Invitation, ana.invitation_id)
        assert inv is not None and inv.sent_at == row.created_at
    assert sent.ref == f"inv-{ana.invitation_id}" and len(sent.buttons) == 2


def test_next_due_is_when_the_earliest_scheduled_survey_is_due(
    client: FlaskClient, rt: Runtime
) -> None:
    assert next_due(rt) is None
    ana = SandboxCustomer(client, rt)
    with rt.db.session() as s:
        inv = s.get(Invitation, ana.invitation_id)
        assert inv is not None
        due = inv.due_at
    assert next_due(rt) == due
    ana.receive_survey()
    assert next_due(rt) is None  # asked, no longer scheduled

"""Every channel's inbound rows, replayed through the real app: `POST /webhooks/<route>`.

Rows live in `tests/channels/rows_<channel>.py` (see `tests/channels/cases.py`); a row's
`given` prepares state: "open_survey" (a survey asked to the row's sender on its channel) and
"outbound_status:<status>" (the outbound message a status row reports on starts in <status>)
and "known_contact" (a contact the API made with the sender's phone or chat id, no channel
row yet: the message must join it, not fail on the address it holds).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from sqlalchemy import select

from bot.runtime import Runtime
from bot.storage.messages import queue_outbound
from bot.storage.models import ContactChannel, Message
from bot.survey.customers import parse_customer, upsert_contact
from bot.web.app import create_app
from channels.base import Outbound, Template, WebRequest
from tests.conftest import Clock, make_settings
from tests.e2e.channels import rows_whatsapp
from tests.e2e.channels.cases import InboundCase
from tests.e2e.channels.rows_whatsapp import INVITE
from tests.e2e.channels.test_outbound import _row_modules
from tests.helpers import open_survey

PAYLOADS = Path(__file__).resolve().parents[1] / "payloads"

ROWS = [
    pytest.param(module, case, id=case.label)
    for module in _row_modules()
    for case in getattr(module, "INBOUND", [])
]


def _corrupt(value: str) -> str:
    return value[:-4] + ("AAAA" if not value.endswith("AAAA") else "BBBB")


def _build(module: ModuleType, case: InboundCase) -> tuple[bytes, dict[str, str], str]:
    raw = (PAYLOADS / case.payload).read_bytes()
    if module.PAYLOAD_FORMAT == "form":
        form = dict(parse_qsl(raw.decode().strip(), keep_blank_values=True))
        form.update({k: str(v) for k, v in case.overrides.items()})
        return urlencode(form).encode(), form, "application/x-www-form-urlencoded"
    data: Any = json.loads(raw)
    if isinstance(data, dict):
        data.update(case.overrides)
    return json.dumps(data).encode(), {}, "application/json"


def _given(rt: Runtime, case: InboundCase, req: WebRequest) -> int | None:
    """Prepare the row's state; the known contact's id, when the row asks for one."""
    channel = rt.route(case.route)
    if (not case.given and case.expect_status is None) or channel is None:
        return None
    parsed = channel.parse(req)
    if "known_contact" in case.given:
        m = parsed.messages[0]
        # As `PUT /api/v1/contacts/{id}` stores it: the phone in E.164, whatever form it came in.
        held = {"phone": m.sender} if m.sender.startswith("+") else {"telegram_chat_id": m.sender}
        with rt.db.session() as s:
            contact, _ = upsert_contact(s, parse_customer(held, ""), rt.clock(), "es")
            return contact.id
    # A row whose update is ignored has no sender to open a survey for (nothing is stored).
    if "open_survey" in case.given and parsed.messages:
        m = parsed.messages[0]
        open_survey(rt, m.channel, m.sender)
    if case.expect_status is not None:
        status = next(
            (g.split(":", 1)[1] for g in case.given if g.startswith("outbound_status:")), "sent"
        )
        st = parsed.statuses[0]
        with rt.db.session() as s:
            row = queue_outbound(
                s,
                Outbound(channel=st.channel, to="+5215512345678", text="¿0 a 10?"),
                contact_id=None,
                kind="question",
                now=rt.clock(),
            )
            row.provider_id, row.status = st.provider_id, status
    return None


def _inbound(rt: Runtime) -> list[Message]:
    with rt.db.session() as s:
        return list(s.scalars(select(Message).where(Message.direction == "in")))


def _channels(rt: Runtime) -> list[tuple[int, str, str]]:
    """Every channel row, as (contact, channel, address)."""
    cc = ContactChannel
    with rt.db.session() as s:
        rows = s.execute(select(cc.contact_id, cc.channel, cc.address))
        return [(r[0], r[1], r[2]) for r in rows]


@pytest.mark.parametrize(("module", "case"), ROWS)
def test_inbound(module: ModuleType, case: InboundCase, database_url: str, clock: Clock) -> None:
    with module.FAKE() as fake:
        app = create_app(make_settings(database_url, **module.settings(fake.url)))
        rt: Runtime = app.extensions["npsbot"]
        rt.clock = clock
        try:
            url = f"http://localhost/webhooks/{case.route}{case.path}"
            body, form, ctype = _build(module, case)
            headers = {"Content-Type": ctype, **case.headers}
            if case.signing != "missing":
                signed = module.sign(url, form, body, rt.settings)
                if case.signing == "invalid":
                    signed = {k: _corrupt(v) for k, v in signed.items()}
                headers.update(signed)
            req = WebRequest("POST", url, headers, form, body)
            known = _given(rt, case, req)
            client = app.test_client()
            r = client.post(url, data=body, headers=headers)
            assert r.status_code == case.status, r.get_data(as_text=True)
            for part in case.body_contains:
                assert part in r.get_data(as_text=True)
            stored = _inbound(rt)
            if case.channel is None:
                assert stored == []
            else:
                assert len(stored) == 1
                got = stored[0]
                assert got.channel == case.channel
                if case.text is not None:
                    assert got.text == case.text
                if case.sender is not None:
                    assert got.address == case.sender
                if case.provider_id is not None:
                    assert got.provider_id == case.provider_id
                if known is not None:
                    assert got.contact_id == known
                    assert _channels(rt) == [(known, got.channel, got.address)]
            if case.duplicate:
                again = client.post(url, data=body, headers=headers)
                assert (again.status_code, again.get_data()) == (r.status_code, r.get_data())
                assert len(_inbound(rt)) == len(stored)
            if case.expect_status is not None:
                provider_id, status = case.expect_status
                with rt.db.session() as s:
                    statuses = s.scalars(
                        select(Message.status).where(Message.provider_id == provider_id)
                    ).all()
                assert status in statuses
        finally:
            rt.close()


@pytest.mark.parametrize(
    ("template", "resent"),
    [
        pytest.param(INVITE, 1, id="with-a-template-it-goes-again-as-the-template"),
        pytest.param(None, 0, id="without-a-template-it-stays-failed"),
    ],
)
def test_free_form_text_refused_outside_the_window(
    database_url: str, clock: Clock, template: Template | None, resent: int
) -> None:
    """Twilio's 63016 status callback (`StatusUpdate.outside_window`) on a message that has an
    approved template queues that template; the refused message stays failed."""
    with rows_whatsapp.FAKE() as fake:
        app = create_app(make_settings(database_url, **rows_whatsapp.settings(fake.url)))
        rt: Runtime = app.extensions["npsbot"]
        rt.clock = clock
        try:
            body = (PAYLOADS / "twilio" / "status_wa_failed_63016.form").read_bytes().strip()
            form = dict(parse_qsl(body.decode(), keep_blank_values=True))
            url = "http://localhost/webhooks/twilio/status"
            with rt.db.session() as s:
                row = queue_outbound(
                    s,
                    Outbound(channel="whatsapp", to=form["To"], text="Hola", template=template),
                    contact_id=None,
                    kind="question",
                    now=rt.clock(),
                )
                row.provider_id, row.status = form["MessageSid"], "sent"
            headers = {
                "Content-Type": "application/x-www-form-urlencoded",
                **rows_whatsapp.sign(url, form, body, rt.settings),
            }
            r = app.test_client().post(url, data=body, headers=headers)
            assert r.status_code == 200
            with rt.db.session() as s:
                refused = s.scalar(select(Message).where(Message.provider_id == form["MessageSid"]))
                again = s.scalars(select(Message).where(Message.provider_id.is_(None))).all()
                assert refused is not None and refused.status == "failed"
                assert len(again) == resent
                for msg in again:
                    assert msg.status == "queued" and msg.payload["needs_template"] is True
        finally:
            rt.close()

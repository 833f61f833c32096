"""A correctly authenticated webhook is stored (sanitised) or refused with a 4xx naming why;
never a 5xx a retry cannot fix (issue 16, findings 1, 2, 5, 11, 12). On SQLite and PostgreSQL.

Stored: NUL and lone surrogates removed, over-long fields cut to their columns, an over-long
provider id kept unique by a digest. An address that had to be cut (or does not fit a contact)
names nobody: the message is stored without a contact and not answered.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import select

from bot.storage.messages import clean_id, queue_outbound
from bot.storage.models import Message
from channels.base import Outbound
from tests.conftest import Clock
from tests.e2e.channels.webhooks import World, telegram_update, twilio_form, world

SID = "SM1f0e2d3c4b5a69788796a5b4c3d2e1f0"


def _twilio(**fields: str) -> dict[str, str]:
    return twilio_form(**fields)


@pytest.mark.parametrize(
    ("fields", "check"),
    [
        pytest.param({"Body": "9\x00 gracias"}, lambda m: m.text == "9 gracias", id="nul-in-body"),
        pytest.param(
            {"ProfileName": "Ana\x00"},
            lambda m: m.payload["sender_name"] == "Ana",
            id="nul-in-profile-name",
        ),
        pytest.param(
            {"ProfileName": "A" * 300},
            lambda m: m.payload["sender_name"] == "A" * 200,
            id="profile-name-over-200",
        ),
        pytest.param(
            {"From": "+" + "5" * 80},
            lambda m: len(m.address) == 64 and m.contact_id is None,
            id="from-over-64-is-stored-without-a-contact",
        ),
        pytest.param(
            {"From": "+52155\x0012345678"},
            lambda m: m.contact_id is None,
            id="nul-in-from-is-stored-without-a-contact",
        ),
        pytest.param(
            {"From": "+" + "5" * 24},
            lambda m: m.contact_id is not None,
            id="from-longer-than-a-phone-number",
        ),
        pytest.param(
            {"MessageSid": "SM" + "f" * 200, "SmsMessageSid": "", "SmsSid": ""},
            lambda m: m.provider_id == clean_id("SM" + "f" * 200) and len(m.provider_id) == 128,
            id="message-sid-over-128",
        ),
    ],
)
def test_a_poison_twilio_message_is_stored_once_sanitised(
    fields: dict[str, str], check: Callable[[Any], bool], database_url: str, clock: Clock
) -> None:
    with world(database_url, clock) as w:
        form = _twilio(**fields)
        first = w.twilio(form)
        assert first[0] == 200, first
        again = w.twilio(form)  # the redelivery is answered as before and stores nothing
        assert again == first
        [stored] = w.inbound()
        assert check(stored), stored.__dict__


@pytest.mark.parametrize(
    ("change", "check"),
    [
        pytest.param(
            lambda u: u["message"].update(text="9\u0000"), lambda m: m.text == "9", id="nul-text"
        ),
        pytest.param(
            lambda u: u["message"].update(text="9 \ud800"),
            lambda m: m.text == "9 ?",
            id="lone-surrogate-text",
        ),
        pytest.param(
            lambda u: u["message"]["from"].update(first_name="N" * 300, last_name=""),
            lambda m: m.payload["sender_name"] == "N" * 200,
            id="first-name-of-300",
        ),
        pytest.param(
            lambda u: u["message"]["chat"].update(id=10**40),
            lambda m: m.contact_id is None and m.address == str(10**40),
            id="chat-id-of-41-digits-is-stored-without-a-contact",
        ),
    ],
)
def test_a_poison_telegram_message_is_stored_once_sanitised(
    change: Callable[[dict[str, Any]], None],
    check: Callable[[Any], bool],
    database_url: str,
    clock: Clock,
) -> None:
    with world(database_url, clock) as w:
        update = telegram_update()
        change(update)
        first = w.telegram(update)
        assert first[0] == 200, first
        assert w.telegram(update) == first
        [stored] = w.inbound()
        assert check(stored), stored.__dict__


@pytest.mark.parametrize(
    ("sid", "code"),
    [
        pytest.param("SMd01e2d3c4b5a69788796a5b4c3d2e1f0", "3" * 40, id="error-code-over-16"),
        pytest.param("SM\x00" + "d" * 200, "30007", id="nul-and-over-long-message-sid"),
    ],
)
def test_a_poison_status_callback_is_applied_never_5xx(
    sid: str, code: str, database_url: str, clock: Clock
) -> None:
    with world(database_url, clock) as w:
        with w.rt.db.session() as s:
            row = queue_outbound(
                s,
                Outbound(channel="sms", to="+5215512345678", text="¿0 a 10?"),
                contact_id=None,
                kind="question",
                now=clock(),
            )
            row.provider_id, row.status = clean_id(sid), "sent"
            s.commit()
        form = twilio_form(
            "status_sms_undelivered.form", MessageSid=sid, SmsSid=sid, ErrorCode=code
        )
        status, body = w.twilio(form, "/status")
        assert status == 200, body
        with w.rt.db.session() as s:
            got = s.scalars(select(Message).where(Message.direction == "out")).one()
        assert (got.status, got.error_code) == ("undelivered", code[:16])


def _deep(n: int) -> bytes:
    return b'{"update_id": 7, "message": ' + b'{"a": ' * n + b"1" + b"}" * n + b"}"


def _without(kind: str, key: str) -> Callable[[dict[str, Any]], None]:
    return lambda u: u[kind].pop(key)


@pytest.mark.parametrize(
    ("payload", "change", "reason"),
    [
        (
            "message_text.json",
            lambda u: u["message"].update(text=9),
            "message.text is not a string",
        ),
        ("message_text.json", _without("message", "chat"), "no 'chat'"),
        ("message_text.json", lambda u: u["message"].update(date=2**62), "update 815300001"),
        ("message_text.json", lambda u: u["message"]["chat"].update(id="x"), "chat.id"),
        ("callback_query.json", _without("callback_query", "from"), "no 'from'"),
        ("blocked.json", _without("my_chat_member", "from"), "no 'from'"),
        ("message_text.json", lambda u: u.update(message=[1]), "not an object"),
    ],
    ids=[
        "text-is-a-number",
        "message-without-chat",
        "date-of-2-to-the-62",
        "chat-id-not-a-number",
        "callback-without-from",
        "my-chat-member-without-from",
        "message-not-an-object",
    ],
)
def test_a_malformed_telegram_update_is_refused_with_a_reason(
    payload: str,
    change: Callable[[dict[str, Any]], None],
    reason: str,
    database_url: str,
    clock: Clock,
) -> None:
    with world(database_url, clock) as w:
        update = telegram_update(payload)
        change(update)
        status, body = w.telegram(update)
        assert status == 400, body
        assert reason in json.loads(body)["reason"]
        assert w.inbound() == []


def test_json_nested_100000_deep_is_refused(database_url: str, clock: Clock) -> None:
    with world(database_url, clock) as w:
        status, body = w.telegram(_deep(100_000))
        assert status == 400 and "nested" in json.loads(body)["reason"]
        assert w.inbound() == []


@pytest.mark.parametrize(
    "sender", ["messenger:1234567", "rcs:+15551234567", "WhatsApp:+5215512345678"]
)
def test_a_twilio_channel_npsbot_does_not_serve_is_refused_naming_it(
    sender: str, database_url: str, clock: Clock
) -> None:
    with world(database_url, clock) as w:
        status, body = w.twilio(_twilio(From=sender))
        assert status == 400
        assert "does not serve" in json.loads(body)["reason"]
        assert w.inbound() == [] and w.contacts() == 0


def test_a_redelivery_under_another_from_creates_nothing(database_url: str, clock: Clock) -> None:
    with world(database_url, clock) as w:
        first = w.twilio(_twilio())
        assert first[0] == 200
        again = w.twilio(_twilio(From="+5215598765432"))
        assert again == first
        assert w.contacts() == 1 and len(w.inbound()) == 1
        assert w.addresses() == [("sms", "+5215512345678")]


def _concurrently(w: World, posts: list[Callable[[], tuple[int, bytes]]]) -> list[Any]:
    start = threading.Barrier(len(posts))

    def run(post: Callable[[], tuple[int, bytes]]) -> tuple[int, bytes]:
        start.wait(timeout=10)
        return post()

    with ThreadPoolExecutor(len(posts)) as pool:
        return list(pool.map(run, posts, timeout=60))


@pytest.mark.parametrize("channel", ["sms", "telegram"])
def test_50_concurrent_first_messages_from_a_new_sender_all_get_200(
    channel: str, database_url: str, clock: Clock
) -> None:
    with world(database_url, clock) as w:
        if channel == "sms":
            forms = [_twilio(MessageSid=f"SM{i:032x}", Body="hola") for i in range(50)]
            posts = [lambda f=f: w.twilio(f) for f in forms]
        else:
            updates = []
            for i in range(50):
                u = telegram_update()
                u["update_id"] += i
                u["message"].update(message_id=100 + i, text="hola")
                updates.append(u)
            posts = [lambda u=u: w.telegram(u) for u in updates]
        answers = _concurrently(w, posts)
        assert {status for status, _ in answers} == {200}, answers
        assert len({body for _, body in answers}) == 1
        stored = w.inbound(channel)
        assert len(stored) == 50 and len({m.provider_id for m in stored}) == 50
        assert w.contacts() == 1
        assert {m.contact_id for m in stored} == {stored[0].contact_id} != {None}

"""`bot.survey.optout.opt`, the one opt-out path: the channel row keeps its first opt-out, the
consent history records every report, and the webhook announces only a change. Its callers'
own paths: tests/integration/webhooks/test_events.py (a STOP, a Delighted unsubscribe)."""

from __future__ import annotations

from sqlalchemy import select

from bot.events import ContactOptedOut, Event
from bot.integrations import webhooks as hooks
from bot.runtime import Runtime
from bot.storage.hooks import EVENT_TYPES
from bot.storage.models import Consent, Contact, ContactChannel, WebhookEvent
from bot.survey.optout import opt
from tests.conftest import Clock


def test_a_provider_stop_then_a_start_each_change_the_channel_once(
    rt: Runtime, clock: Clock
) -> None:
    first = clock()
    events: list[Event] = []
    with rt.db.session_for_update() as s:
        hooks.create(
            s,
            url="https://x.example/h",
            events=list(EVENT_TYPES),
            now=first,
            actor=hooks.Actor("cli", "cli"),
        )
        ana = Contact(name="Ana", phone="+525512345678", language="es")
        s.add(ana)
        s.flush()
        s.add(ContactChannel(contact_id=ana.id, channel="sms", address="+525512345678"))
        s.flush()
        conn = s.connection()

        def says(out: bool, method: str, source: str | None) -> bool:
            clock.advance(minutes=1)
            kw = {"method": method, "source": source, "now": clock(), "events": events}
            return opt(conn, ana.id, "sms", out=out, **kw)

        assert says(True, "provider", None)  # Twilio 21610 on a send
        assert not says(True, "keyword", "BAJA")  # already out: history only
        assert says(False, "keyword", "ALTA")
        assert not says(False, "keyword", "ALTA")  # a repeat: nothing at all
        out_at = s.scalar(select(ContactChannel.opted_out_at))
        consents = s.execute(
            select(Consent.given, Consent.method, Consent.source).order_by(Consent.id)
        )
        kinds = s.scalars(select(WebhookEvent.type).order_by(WebhookEvent.at))
        assert (out_at, list(kinds)) == (None, ["contact.opted_out", "contact.opted_in"])
        assert [tuple(c) for c in consents] == [
            (False, "provider", None),
            (False, "keyword", "BAJA"),
            (True, "keyword", "ALTA"),
        ]
        assert events == [ContactOptedOut(ana.id, "sms")]

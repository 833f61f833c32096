"""A program's day reads its contacts' rule facts in a batch (`rules.load_histories`): the same
facts, contact by contact, as the purchase path's `rules.load_history`."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.runtime import Runtime
from bot.storage.models import Contact, ContactChannel, Survey
from bot.survey.purchases import new_invitation
from bot.survey.rules import load_histories, load_history
from tests.conftest import Clock


def test_the_batch_reads_what_one_contact_at_a_time_reads(rt: Runtime, clock: Clock) -> None:
    now = clock()
    with rt.db.session_for_update() as s:
        survey = s.scalar(select(Survey).order_by(Survey.id))
        assert survey is not None
        email_only = Contact(email="a@example.com", language="es")  # no chat: no_address
        email_and_chat = Contact(email="b@example.com", language="es")  # an open channel row
        opted_out = Contact(phone="+5215512345678", language="es")
        surveyed = Contact(phone="+5215587654321", language="es")
        nothing = Contact(language="es")  # a Telegram onboarding: its deep link reaches it
        s.add_all([email_only, email_and_chat, opted_out, surveyed, nothing])
        s.flush()
        s.add(ContactChannel(contact=email_and_chat, channel="telegram", address="99"))
        s.add(ContactChannel(contact=opted_out, channel="sms", address="x", opted_out_at=now))
        new_invitation(rt, s, survey, surveyed, ["sms"], now - timedelta(days=1))
        s.flush()
        ids = [c.id for c in (email_only, email_and_chat, opted_out, surveyed, nothing)]
    with rt.db.session() as s:
        one_by_one = {cid: load_history(s, cid, consent=True) for cid in ids}
        batch = load_histories(s, ids, consent=True)
    assert batch == one_by_one
    assert [batch[cid].no_address for cid in ids] == [True, False, False, False, False]
    assert batch[ids[2]].stopped == {"sms"}
    assert batch[ids[3]].in_flight == 1

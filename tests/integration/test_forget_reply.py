"""The reply that confirms a customer's erasure keeps their address and its text only until its
status is final (`bot.storage.messages.FORGET`): here, a provider's delivery report."""

from __future__ import annotations

from sqlalchemy import select

from bot.inbound.statuses import apply_status
from bot.runtime import Runtime
from bot.storage.messages import FORGET, queue_outbound
from bot.storage.models import Message
from channels.base import DeliveryStatus, Outbound, StatusUpdate


def test_a_forget_reply_is_blanked_by_its_final_status_report_and_not_before(rt: Runtime) -> None:
    reply = Outbound(channel="sms", to="+5215512345678", text="Listo, borramos tus datos.")
    with rt.db.session() as s:
        row = queue_outbound(s, reply, contact_id=None, now=rt.clock())
        row.provider_id, row.status = "SM" + "a" * 32, "queued"  # accepted by the provider
    with rt.db.session() as s:
        (row,) = s.scalars(select(Message))
        assert (row.kind, row.address) == ("reply", "+5215512345678")  # not marked: kept
    forgettable = Outbound(channel="sms", to="+5215512345678", text="Listo.", ref=FORGET)
    with rt.db.session() as s:
        row = queue_outbound(s, forgettable, contact_id=None, now=rt.clock())
        row.provider_id, row.status = "SM" + "b" * 32, "queued"
    apply_status(rt, StatusUpdate("sms", "SM" + "b" * 32, DeliveryStatus.QUEUED))
    with rt.db.session() as s:
        row = s.scalars(select(Message).where(Message.kind == FORGET)).one()
        assert row.address == "+5215512345678"  # still on its way: kept
    apply_status(rt, StatusUpdate("sms", "SM" + "b" * 32, DeliveryStatus.DELIVERED))
    with rt.db.session() as s:
        row = s.scalars(select(Message).where(Message.kind == FORGET)).one()
        assert (row.status, row.address, row.text, row.payload) == ("delivered", "", "", {})

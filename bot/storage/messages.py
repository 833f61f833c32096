"""Message rows: the one module that writes and reads the `messages` table's outbound payloads.

Every outbound message (a survey question, a reply, a staff relay, a template resend) becomes a
row through `queue_outbound` or `outbound_row`; every sender turns a row back into an `Outbound`
with `outbound_from_payload`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from bot.storage.models import Message
from channels.base import Button, DeliveryStatus, Outbound, Template


def outbound_payload(msg: Outbound) -> dict[str, Any]:
    """The message as JSON for its row: what `dataclasses.asdict` gives, built directly (its
    recursive deep copy of the buttons was a quarter of a worker's time per survey). The plain
    fields are a copy of the instance's `__dict__` (one C call), then the nested ones are
    replaced."""
    d = dict(vars(msg))
    d["buttons"] = [[{"label": b.label, "data": b.data} for b in row] for row in msg.buttons]
    d["template"] = None if msg.template is None else asdict(msg.template)
    return d


def outbound_from_row(row: Message) -> Outbound:
    return outbound_from_payload(row.payload)


def outbound_from_payload(payload: dict[str, Any]) -> Outbound:
    data = dict(payload)
    data["buttons"] = tuple(tuple(Button(**b) for b in r) for r in data.get("buttons", ()))
    if data.get("template"):
        data["template"] = Template(**data["template"])
    return Outbound(**data)


def queue_outbound(
    s: Session,
    msg: Outbound,
    *,
    contact_id: int | None,
    invitation_id: int | None = None,
    in_reply_to: int | None = None,
    kind: str = "reply",
    status: DeliveryStatus = DeliveryStatus.QUEUED,
    now: datetime,
) -> Message:
    row = Message(
        channel=msg.channel,
        direction="out",
        address=msg.to,
        contact_id=contact_id,
        invitation_id=invitation_id,
        in_reply_to_id=in_reply_to,
        kind=kind,
        text=msg.text,
        payload=outbound_payload(msg),
        status=status,
        next_attempt_at=now,
        created_at=now,
    )
    s.add(row)
    return row


@dataclass(frozen=True)
class SentRow:
    """An outbound message the provider already accepted, for `write_sent`."""

    msg: Outbound
    provider_id: str | None
    status: str
    contact_id: int | None
    invitation_id: int | None
    kind: str
    at: datetime  # when it was sent


def write_sent(conn: Connection, rows: Sequence[SentRow]) -> None:
    """Many sent messages in one INSERT (an executemany), encoded as `queue_outbound` does."""
    if not rows:
        return
    conn.execute(
        insert(Message),
        [
            {
                "channel": r.msg.channel,
                "direction": "out",
                "provider_id": r.provider_id,
                "address": r.msg.to,
                "contact_id": r.contact_id,
                "invitation_id": r.invitation_id,
                "in_reply_to_id": None,
                "kind": r.kind,
                "text": r.msg.text,
                "payload": outbound_payload(r.msg),
                "status": r.status,
                "attempts": 1,
                "next_attempt_at": r.at,
                "created_at": r.at,
                "status_at": r.at,
            }
            for r in rows
        ],
    )

"""Message rows: the one module that writes the `messages` table and reads its payloads back.

Every inbound message is stored by `store_inbound` (idempotent on the provider's id). Every
outbound message (a survey question, a reply, a staff relay, a template resend) becomes a row
through `outbound_row` (`queue_outbound` for the ORM, `store_replies` for an inbound message's
replies); every sender turns a row back into an `Outbound` with `outbound_from_payload`."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, String, Table, bindparam, select, update
from sqlalchemy.orm import Session

from bot.storage.db import upsert_for
from bot.storage.models import Contact, Message
from channels.base import Button, DeliveryStatus, Inbound, Outbound, StatusUpdate, Template

MESSAGES = cast(Table, Message.__table__)
CONTACTS = cast(Table, Contact.__table__)


# The bounds an inbound message is cut to: PostgreSQL refuses a longer value or a NUL on every
# retry, so a provider's odd message would be lost instead of stored.
def column_length(table: Table, column: str) -> int:
    """A String column's declared length (what PostgreSQL enforces)."""
    length = cast(String, table.c[column].type).length
    assert length is not None, f"{table.name}.{column} has no length"
    return length


PROVIDER_ID_MAX = column_length(MESSAGES, "provider_id")
ADDRESS_MAX = column_length(MESSAGES, "address")
NAME_MAX = column_length(CONTACTS, "name")
TEXT_MAX = 16_384  # 4x Telegram's 4,096 and 10x Twilio's 1,600: room, but bounded
FIELD_MAX = 1_024  # every other string of the stored payload (buttons, reply ids, …)
ERROR_CODE_MAX = column_length(MESSAGES, "error_code")
MEDIA_MAX = 1_000  # a count, bounded so a huge number stays a number in every JSON reader
# `Outbound.ref` of a message that must not outlive its sending: the reply confirming a
# customer's erasure. Its row (`kind` FORGET) keeps no address or text once its status is
# final, so a search for the phone number finds nothing after delivery.
FORGET = "forget"
FINAL = frozenset(DeliveryStatus) - {DeliveryStatus.QUEUED}  # not `sending`, not `unknown`


def clean(value: str, limit: int) -> str:
    """`value` without NUL and lone surrogates (neither can be stored), cut to `limit`."""
    value = value.replace("\x00", "")
    if not value.isascii():
        value = value.encode("utf-8", "replace").decode("utf-8")  # a lone surrogate -> "?"
    return value[:limit]


def clean_id(value: str) -> str:
    """A provider id that fits its column and stays the same for every redelivery: an
    over-long one keeps its head and gains a digest of the whole."""
    value = clean(value, len(value))
    if len(value) <= PROVIDER_ID_MAX:
        return value
    digest = hashlib.sha256(value.encode()).hexdigest()
    return value[: PROVIDER_ID_MAX - len(digest) - 1] + "#" + digest


def clean_inbound(m: Inbound) -> Inbound:
    """The one place an inbound message is made storable: NUL and lone surrogates removed,
    every field cut to its column (the provider id made to fit, see `clean_id`)."""

    def opt(value: str | None, limit: int = FIELD_MAX) -> str | None:
        return None if value is None else clean(value, limit)

    return replace(
        m,
        provider_id=clean_id(m.provider_id),
        sender=clean(m.sender, ADDRESS_MAX),
        text=clean(m.text, TEXT_MAX),
        sender_name=opt(m.sender_name, NAME_MAX),
        media_count=max(0, min(m.media_count, MEDIA_MAX)),
        button=opt(m.button),
        callback_id=opt(m.callback_id),
        reply_to=opt(m.reply_to),
        start_payload=opt(m.start_payload),
        chat_id=opt(m.chat_id, ADDRESS_MAX),
        language_hint=opt(m.language_hint, 16),
    )


def clean_status(st: StatusUpdate) -> StatusUpdate:
    """A delivery report made as storable as `clean_inbound` makes a message."""
    code = None if st.error_code is None else clean(st.error_code, ERROR_CODE_MAX)
    return replace(st, provider_id=clean_id(st.provider_id), error_code=code)


def outbound_payload(msg: Outbound) -> dict[str, Any]:
    """The message as JSON for its row: what `dataclasses.asdict` gives, built directly (no
    recursive deep copy of the buttons): a copy of the instance's fields, then the nested ones."""
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


def outbound_row(
    msg: Outbound,
    *,
    contact_id: int | None,
    invitation_id: int | None = None,
    in_reply_to: int | None = None,
    kind: str = "reply",
    status: str = DeliveryStatus.QUEUED,
    status_at: datetime | None = None,
    now: datetime,
) -> dict[str, Any]:
    """The `messages` row of an outbound message, as column values."""
    if msg.ref == FORGET:
        kind = FORGET
    row = dict(
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
        status_at=status_at,
    )
    return row | forgotten() if kind == FORGET and status in FINAL else row


def forgotten() -> dict[str, Any]:
    """A FORGET row's columns once its status is final: nothing names or quotes the person
    (the tombstone `bot.privacy.erasure` leaves of the person's other messages)."""
    return {"address": "", "text": "", "payload": {}}


def forget_sent(conn: Connection, message_id: int) -> None:
    """Blank a FORGET row that reached a final status (the outbox's send, a status report)."""
    conn.execute(
        MESSAGES.update()
        .where(
            MESSAGES.c.id == message_id,
            MESSAGES.c.kind == FORGET,
            MESSAGES.c.status.in_(sorted(FINAL)),
        )
        .values(forgotten())
    )


def last_sent(
    conn: Connection, contact_id: int, channel: str
) -> tuple[datetime, str | None] | None:
    """When the last message to the contact on `channel` was made, and its `Outbound.ref`."""
    row = conn.execute(_LAST_SENT, {"contact_id": contact_id, "channel": channel}).first()
    return None if row is None else (row.created_at, (row.payload or {}).get("ref"))


_LAST_SENT = (
    select(MESSAGES.c.created_at, MESSAGES.c.payload)
    .where(
        MESSAGES.c.contact_id == bindparam("contact_id"),
        MESSAGES.c.channel == bindparam("channel"),
        MESSAGES.c.direction == "out",
    )
    .order_by(MESSAGES.c.id.desc())
    .limit(1)
)


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
        **outbound_row(
            msg,
            contact_id=contact_id,
            invitation_id=invitation_id,
            in_reply_to=in_reply_to,
            kind=kind,
            status=status,
            now=now,
        )
    )
    s.add(row)
    return row


# --- an inbound message and its replies (the webhook's Core statements) -----------------------


def _insert_once(insert: Any) -> Any:
    """INSERT … ON CONFLICT DO NOTHING RETURNING id: no id for a provider id stored before."""
    return (
        insert(MESSAGES)
        .on_conflict_do_nothing(index_elements=["channel", "direction", "provider_id"])
        .returning(MESSAGES.c.id)
    )


_INSERT_ONCE = {d: _insert_once(upsert_for(d)) for d in ("postgresql", "sqlite")}
_INSERT = MESSAGES.insert()
# The id of an inbound message, by its channel and provider id (parameters named apart from
# the columns: an UPDATE would read a parameter named like a column as that column's value).
_ORIGINAL = (
    select(MESSAGES.c.id)
    .where(
        MESSAGES.c.channel == bindparam("in_channel"),
        MESSAGES.c.direction == "in",
        MESSAGES.c.provider_id == bindparam("in_provider_id"),
    )
    .scalar_subquery()
)
_REPLIES = (
    select(MESSAGES.c.payload).where(MESSAGES.c.in_reply_to_id == _ORIGINAL).order_by(MESSAGES.c.id)
)
_UNANSWERED = (
    MESSAGES.update()
    .where(
        MESSAGES.c.in_reply_to_id == _ORIGINAL,
        MESSAGES.c.status == DeliveryStatus.SENT,
        MESSAGES.c.provider_id.is_(None),  # sent inline: the provider never named it
        MESSAGES.c.address != "",  # an erased customer's tombstone (bot.privacy.erasure)
    )
    .values(status=DeliveryStatus.QUEUED, status_at=None, next_attempt_at=bindparam("now"))
)


def store_inbound(
    conn: Connection, m: Inbound, *, contact_id: int | None, now: datetime
) -> int | None:
    """Store an inbound message; its id, or None when its provider id was stored before (a
    redelivery: `replies_to` has what it was answered)."""
    row = dict(
        channel=m.channel,
        direction="in",
        provider_id=m.provider_id,
        address=m.sender,
        contact_id=contact_id,
        kind="button" if m.button else "text",
        text=m.text,
        payload={
            "media_count": m.media_count,
            "button": m.button,
            "reply_to": m.reply_to,
            "chat_type": m.chat_type,
            "chat_id": m.chat_id,
            "sender_name": m.sender_name,
            "opt_out": m.opt_out,
            "start_payload": m.start_payload,
        },
        status="received",
        created_at=now,
    )
    return conn.execute(_INSERT_ONCE[conn.dialect.name], row).scalar()


def store_replies(
    conn: Connection,
    replies: Sequence[Outbound],
    *,
    contact_id: int | None,
    in_reply_to: int,
    inline: bool,
    now: datetime,
) -> None:
    """An inbound message's replies: sent already when they ride in the webhook's answer
    (`inline`), else queued for the outbox."""
    status = DeliveryStatus.SENT if inline else DeliveryStatus.QUEUED
    rows = [
        outbound_row(
            r,
            contact_id=contact_id,
            in_reply_to=in_reply_to,
            status=status,
            status_at=now if inline else None,
            now=now,
        )
        for r in replies
    ]
    if rows:
        conn.execute(_INSERT, rows)


def queue_unanswered(conn: Connection, channel: str, provider_id: str, now: datetime) -> int:
    """The inline replies of an inbound message whose webhook answer never reached the provider
    (the webhook failed after the commit and was spooled): queued for the outbox instead."""
    params = {"in_channel": channel, "in_provider_id": provider_id, "now": now}
    return int(conn.execute(_UNANSWERED, params).rowcount)


def replies_to(conn: Connection, channel: str, provider_id: str) -> list[Outbound]:
    """The replies stored for an inbound message, in order."""
    params = {"in_channel": channel, "in_provider_id": provider_id}
    # An erased customer's replies are tombstones (empty payload): a redelivery gets none.
    return [outbound_from_payload(p) for p in conn.scalars(_REPLIES, params) if p]


# --- messages the dispatcher already sent ----------------------------------------------------


@dataclass(frozen=True)
class SentRow:
    """An outbound message the provider already accepted (or refused), for `write_sent`."""

    msg: Outbound
    provider_id: str | None
    status: str
    contact_id: int | None
    invitation_id: int | None
    kind: str
    at: datetime  # when it was sent


def write_sent(conn: Connection, rows: Sequence[SentRow]) -> None:
    """Many sent messages in one INSERT (an executemany), encoded by `outbound_row`."""
    if rows:
        conn.execute(
            _INSERT,
            [
                outbound_row(
                    r.msg,
                    contact_id=r.contact_id,
                    invitation_id=r.invitation_id,
                    kind=r.kind,
                    status=r.status,
                    status_at=r.at,
                    now=r.at,
                )
                | {"provider_id": r.provider_id, "attempts": 1}
                for r in rows
            ],
        )


def forget_texts(s: Session, ids: Sequence[int]) -> None:
    """Retention: these rows' texts and payloads go; the rows stay (provider ids keep webhooks
    idempotent, statuses and times keep the delivery statistics)."""
    s.execute(
        update(Message)
        .where(Message.id.in_(ids))
        .values(text="", payload={})
        .execution_options(synchronize_session=False)
    )

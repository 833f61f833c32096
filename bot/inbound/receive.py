"""Inbound messages, applied one customer at a time.

`handle_inbound` stores the message (idempotent on the provider's id: a redelivery is answered
with the replies stored the first time), finds or creates the sender (locking it, so a
customer's messages apply in order), hands the message to the conversation or to the staff
hooks, and stores the replies. All of it commits before the webhook answers; a storage error
propagates, so the web layer answers 5xx and the provider retries.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from bot.events import ContactErased, Event, OutboxQueued
from bot.inbound import answer
from bot.privacy.erasure import addresses_of, erase_contact
from bot.runtime import Runtime
from bot.storage.db import Unit
from bot.storage.messages import (
    FORGET,
    clean_inbound,
    last_sent,
    queue_unanswered,
    replies_to,
    store_inbound,
    store_replies,
)
from bot.survey import conversation, erase_words, touchpoints
from bot.survey.codes import message_code
from bot.survey.contacts import Found, create_for_inbound, find_sender, identifies
from bot.survey.conversation import Facts, Keyword, Turn, Voice
from bot.survey.question import read_score
from bot.texts import Texts, texts_for
from channels import registry
from channels.base import Inbound, OptOutKind, Outbound

log = logging.getLogger(__name__)


# `Outbound.ref` of the question that asks to confirm an erasure, with its language after it.
ERASE_ASKED = "erase-asked:"

_KEYWORD = {
    OptOutKind.STOP: Keyword.STOP,
    OptOutKind.START: Keyword.START,
    OptOutKind.HELP: Keyword.HELP,
}


def handle_inbound(
    rt: Runtime, m: Inbound, *, inline: bool = False, invitation: int | None = None
) -> list[Outbound]:
    """Apply one inbound message; returns the replies (already stored). `invitation`: the one
    the message answers, when it names it (the survey page's URL); else the contact's latest."""
    try:
        return _receive(rt, m, inline=inline, invitation=invitation)
    except IntegrityError:
        # Lost a race (PostgreSQL): the contact its phone named was erased, or a concurrent
        # first message took the address, before this one wrote its rows. Nothing was kept;
        # once more, it sees the committed state. A second failure propagates (a 5xx: retried).
        log.info("%s message %s: conflict, applying it again", m.channel, m.provider_id)
        return _receive(rt, m, inline=inline, invitation=invitation)


def _receive(rt: Runtime, m: Inbound, *, inline: bool, invitation: int | None) -> list[Outbound]:
    now = rt.clock()
    events: list[Event] = []
    raw, m = m, clean_inbound(m)
    group = m.chat_type != "private"
    # An address that had to be cut or cleaned, or does not fit a contact, names nobody: the
    # message is kept, without a contact and unanswered.
    anonymous = not group and (m.sender != raw.sender or not identifies(m))
    # Who may act in a group is the provider's to say: asked before the transaction, never in it.
    refusal = rt.check_group(rt, m) if group and rt.check_group else None
    with rt.db.unit_for_update() as u:
        found: Found | None = None
        msg_id: int | None = None
        # Group chats never enter a customer survey (staff chats are groups).
        if not group and not anonymous:
            found = find_sender(u.conn, m, now)
            if found is None:
                found, msg_id = _first_message(rt, u, m, now)
        contact_id = found.contact_id if found else None
        if msg_id is None:
            msg_id = store_inbound(u.conn, m, contact_id=contact_id, now=now)
        if msg_id is None:
            log.info("duplicate %s message %s: answering as before", m.channel, m.provider_id)
            replies = _redelivered(u, m, inline=inline, now=now, events=events)
        elif anonymous:
            log.warning(
                "%s message %s: sender address unusable, stored without a contact",
                m.channel,
                m.provider_id,
            )
            replies = _ack(m)
        else:
            if found is None:
                hook = rt.on_group
                replies = hook(rt, u.session, m, msg_id, now, refusal) if hook else _ack(m)
            else:
                replies = _converse(rt, u, m, found, now, events, invitation)
                if any(r.ref == FORGET for r in replies):
                    contact_id = None  # erased: the confirmation names nobody
            if replies:
                u.flush()  # a hook's ORM rows before the replies that may point at them
                store_replies(
                    u.conn,
                    replies,
                    contact_id=contact_id,
                    in_reply_to=msg_id,
                    inline=inline,
                    now=now,
                )
                if not inline:
                    events.append(OutboxQueued())
    rt.bus.publish(*events)
    return replies


def _redelivered(
    u: Unit, m: Inbound, *, inline: bool, now: datetime, events: list[Event]
) -> list[Outbound]:
    """A message stored before: answered with the replies stored then. Replayed from the spool
    (`inline` False on a channel that answers inline), its webhook was answered empty, so the
    replies it was given inline never reached the provider: they go out through the outbox."""
    replayed = not inline and registry.capabilities(m.channel).inline_replies
    if replayed and queue_unanswered(u.conn, m.channel, m.provider_id, now):
        events.append(OutboxQueued())
    return replies_to(u.conn, m.channel, m.provider_id)


def _first_message(
    rt: Runtime, u: Unit, m: Inbound, now: datetime
) -> tuple[Found | None, int | None]:
    """A sender's first message: the contact and the message row, both or neither (a
    redelivery under another address creates nothing). When a concurrent first message created
    the sender first, its committed rows are used instead: (None, None) means a redelivery."""
    savepoint = u.session.begin_nested()
    try:
        found = create_for_inbound(rt, u.session, m, now)
        u.flush()
        msg_id = store_inbound(u.conn, m, contact_id=found.contact_id, now=now)
    except IntegrityError:
        savepoint.rollback()
        # PostgreSQL: the other transaction has committed (the unique index waited for it).
        theirs = find_sender(u.conn, m, now)
        if theirs is None:
            raise  # not a concurrent first message: a conflict a retry may clear
        log.info("%s sender created concurrently; using theirs", m.channel)
        return theirs, None
    if msg_id is None:
        savepoint.rollback()  # a redelivery: its first delivery made everything needed
        return None, None
    savepoint.commit()
    return found, msg_id


def _ack(m: Inbound) -> list[Outbound]:
    """Stop the client's spinner on a tapped button nobody handles (an empty callback answer)."""
    if m.callback_id is None:
        return []
    return [
        Outbound(channel=m.channel, to=m.chat_id or m.sender, text="", callback_id=m.callback_id)
    ]


def _converse(
    rt: Runtime,
    u: Unit,
    m: Inbound,
    found: Found,
    now: datetime,
    events: list[Event],
    invitation: int | None = None,
) -> list[Outbound]:
    """Load the facts the message meets, take one conversation step, apply it, reply."""
    caps = registry.capabilities(m.channel)
    deep_link = caps.needs_deep_link
    if invitation is not None:
        survey = answer.named(u.conn, invitation, found.contact_id)
    else:
        # A contact never surveyed has nothing to look up (the sender's lookup saw it).
        survey = answer.latest(u.conn, found.contact_id) if found.surveyed else None
    linked = answer.link(u.conn, m.start_payload) if deep_link and m.start_payload else None
    # A form's fields answer the survey page's own invitation: no code starts another.
    code = None if caps.page else message_code(m.text, m.start_payload if deep_link else None)
    tp = touchpoints.by_code(u.session, code) if code else None
    entry = touchpoints.entry(u.session, tp, found.contact_id, m.channel, now) if code else None
    facts = Facts(
        now=now,
        contact_id=found.contact_id,
        text=m.text,
        media_count=m.media_count,
        opt_out=_KEYWORD.get(m.opt_out) if m.opt_out else None,
        deep_link=deep_link,
        start_payload=m.start_payload,
        link=answer.link_of(linked) if linked else None,
        button=m.button is not None,
        tapped=read_score(rt.settings.secret_key, m.button) if m.button is not None else None,
        callback=m.callback_id is not None,
        survey=answer.survey_of(survey) if survey else None,
        in_case=found.in_case,
        entry=entry,
        form=caps.page,
        **_erase_asked(u, m, found.contact_id),
    )
    turn = conversation.step(facts)
    if turn.erase:
        # The customer confirmed, in this writing transaction: everything about them goes.
        events.append(ContactErased(tuple(addresses_of(u.session, found.contact_id))))
        erase_contact(
            u.session, found.contact_id, at=now, actor="customer", source=f"chat:{m.channel}"
        )
        return _replies(m, turn, _texts(rt, turn.language or found.language))
    if turn.relay and rt.on_case_message is not None:
        relayed = rt.on_case_message(rt, u.session, m, found.contact_id, now)
        if relayed is not None:
            return relayed
    answer.apply(
        u.conn,
        turn,
        sender=found,
        channel=m.channel,
        survey=survey,
        linked=linked,
        now=now,
        events=events,
    )
    if turn.start_touchpoint and tp is not None:
        language = found.language or rt.settings.default_language
        touchpoints.start(u.session, tp, found.contact_id, language, m.channel, now)
        events.append(OutboxQueued())  # wakes the dispatcher: the question goes out now
    if turn.voice is Voice.SURVEY:
        assert survey is not None
        return _replies(m, turn, _texts(rt, survey.language, survey.texts))
    return _replies(m, turn, _texts(rt, turn.language or found.language))


def _erase_asked(u: Unit, m: Inbound, contact_id: int) -> dict[str, Any]:
    """When (and in which language) our last message here asked to confirm an erasure; looked
    up only for a message that could confirm one."""
    if not (erase_words.affirmative(m.text) or erase_words.request(m.text)):
        return {}
    last = last_sent(u.conn, contact_id, m.channel)
    ref = last[1] if last is not None else None
    if last is None or ref is None or not ref.startswith(ERASE_ASKED):
        return {}
    return {"erase_asked": last[0], "erase_language": ref[len(ERASE_ASKED) :] or None}


def _replies(m: Inbound, turn: Turn, texts: Texts) -> list[Outbound]:
    out: list[Outbound] = []
    if turn.show_choice:
        # Show the chosen score on the question itself, and stop the client's spinner.
        chosen = texts("score_chosen", score=turn.score)
        out.append(
            Outbound(
                channel=m.channel,
                to=m.sender,
                text=f"{texts('question')}\n\n{chosen}",
                callback_id=m.callback_id,
                edit_of=m.reply_to,
            )
        )
    for i, key in enumerate(turn.replies):
        callback = m.callback_id if turn.acks_tap and i == 0 else None
        ref = _REFS.get(key, "").replace("{language}", texts.language) or None
        out.append(
            Outbound(channel=m.channel, to=m.sender, text=texts(key), callback_id=callback, ref=ref)
        )
    return out


# Replies found again by their ref: the erasure's question (a yes answers it) and its
# confirmation (its row keeps nothing of the person once sent).
_REFS = {"erase_confirm": ERASE_ASKED + "{language}", "erased": FORGET}


def _texts(rt: Runtime, language: str | None, survey_texts: dict[str, Any] | None = None) -> Texts:
    return texts_for(
        language,
        survey_texts,
        default=rt.settings.default_language,
        business=rt.settings.business_name,
    )

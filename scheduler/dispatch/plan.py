"""What a claimed invitation is sent as: its channel (`bot.survey.rules.choose_channel`) and the
NPS question on it, from the batch's reads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.engine import Connection

from bot.runtime import Runtime
from bot.storage.db import upsert_for
from bot.storage.models import Contact, ContactChannel
from bot.survey.contacts import address_for
from bot.survey.question import score_buttons
from bot.survey.rules import Reach, choose_channel, in_session_window
from bot.texts import Texts, texts_for
from channels import registry
from channels.base import Outbound, Template

CCH = cast(Table, ContactChannel.__table__)


@dataclass(frozen=True)
class Plan:
    invitation_id: int
    channel: str
    message: Outbound
    contact_id: int


def question(
    rt: Runtime,
    inv_id: int,
    options: Mapping[str, Any],
    language: str,
    contact_name: str | None,
    channel: str,
    address: str,
    last_inbound_at: datetime | None,
    texts: Texts,
    now: datetime,
) -> Outbound:
    """The NPS question for one invitation on one channel: score buttons (numbered text where
    there are none), and the approved template where free text is not allowed (outside the
    session window the customer's last message opened)."""
    return Question.build(rt, options, language, channel, texts).message(
        rt, inv_id, contact_name, address, last_inbound_at, now
    )


@dataclass(frozen=True)
class Question:
    """The parts of the NPS question shared by every invitation of one survey, language and
    channel, worked out once per batch; `message` fills in the invitation's own."""

    channel: str
    text: str
    template: Mapping[str, Any] | None
    buttons: bool  # the channel shows buttons (elsewhere the text already asks "0 to 10")

    @classmethod
    def build(
        cls, rt: Runtime, options: Mapping[str, Any], language: str, channel: str, texts: Texts
    ) -> Question:
        tpl = options.get("whatsapp_templates", {}).get(language)
        ch = rt.channels.get(channel)
        return cls(channel, texts("question"), tpl or None, getattr(ch, "supports_buttons", True))

    def message(
        self,
        rt: Runtime,
        inv_id: int,
        contact_name: str | None,
        address: str,
        last_inbound_at: datetime | None,
        now: datetime,
    ) -> Outbound:
        tpl = self.template
        template = None
        if tpl:
            template = Template(tpl["sid"], {"1": contact_name or ""} | tpl.get("variables", {}))
        window = registry.capabilities(self.channel).session_window
        return Outbound(
            channel=self.channel,
            to=address,
            text=self.text,
            # Optional buttons: a channel without buttons sends the text alone (`render_text`).
            buttons=score_buttons(rt.settings.secret_key, inv_id) if self.buttons else (),
            buttons_optional=True,
            template=template,
            needs_template=not in_session_window(last_inbound_at, window, now),
            ref=f"inv-{inv_id}",
        )


@dataclass(frozen=True)
class SurveyRow:
    id: int
    texts: dict[str, Any]
    options: dict[str, Any]
    resurvey_days: int
    expiry_hours: int


@dataclass
class Job:
    """One claimed invitation and what its sends need, read once for the batch."""

    id: int
    contact: Contact  # transient, from the claim's columns: for addresses and the time zone
    survey: SurveyRow
    language: str
    channels: list[str]
    attempts: int  # after this claim
    sent_at: datetime | None
    link_expires_at: datetime | None
    awaiting_link: bool
    lease_until: datetime | None = None
    plan: Plan | None = None
    tried: set[str] = field(default_factory=set)
    unconsented: frozenset[str] = frozenset()  # channels the survey needs an opt-in on, missing

    @property
    def contact_id(self) -> int:
        return self.contact.id


class Batch:
    """The reads of one claim, keyed for set-based lookups, and the plans made from them."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.known: dict[int, dict[str, Reach]] = {}  # contact id -> channel -> its row
        self.questions: dict[tuple[int, str, str], Question] = {}

    def reach(self, contact_id: int) -> dict[str, Reach]:
        return self.known.setdefault(contact_id, {})

    def load_channels(self, conn: Connection, contact_ids: list[int]) -> None:
        rows = conn.execute(_CHANNELS, {"contacts": contact_ids})
        for cid, name, address, opted, unreachable, inbound in rows:
            self.reach(cid)[name] = Reach(
                address, opted is not None, unreachable is not None, inbound
            )

    def mark(self, contact_id: int, channel: str, *, stopped: bool) -> None:
        """A send found the contact stopped (else unreachable) on `channel`."""
        known = self.reach(contact_id)
        if channel in known:
            r = known[channel]
            known[channel] = replace(r, opted_out=True) if stopped else replace(r, unreachable=True)

    def plan(self, conn: Connection, job: Job, now: datetime) -> Plan | None:
        """The first channel in the invitation's order, not tried yet, that is configured,
        reachable and allowed, and the question on it."""
        rt = self.rt
        usable = [c for c in rt.channels if c not in job.tried and c not in job.unconsented]
        known = self.reach(job.contact_id)
        chosen = choose_channel(job.channels, usable, known, lambda c: address_for(job.contact, c))
        if chosen is None:
            return None
        name, address = chosen
        if name not in known:
            self._ensure_channel(conn, job.contact_id, name, address)
        key = (job.survey.id, job.language, name)
        q = self.questions.get(key)
        if q is None:
            texts = texts_for(
                job.language,
                job.survey.texts,
                default=rt.settings.default_language,
                business=rt.settings.business_name,
            )
            q = self.questions[key] = Question.build(
                rt, job.survey.options, job.language, name, texts
            )
        last_inbound = known[name].last_inbound
        msg = q.message(rt, job.id, job.contact.name, address, last_inbound, now)
        return Plan(job.id, name, msg, job.contact_id)

    def _ensure_channel(self, conn: Connection, contact_id: int, name: str, address: str) -> None:
        upsert = upsert_for(conn.dialect.name)
        conn.execute(
            upsert(CCH)
            .values(contact_id=contact_id, channel=name, address=address)
            .on_conflict_do_nothing()
        )
        self.reach(contact_id)[name] = Reach(address)


_CHANNELS = select(
    CCH.c.contact_id,
    CCH.c.channel,
    CCH.c.address,
    CCH.c.opted_out_at,
    CCH.c.unreachable_at,
    CCH.c.last_inbound_at,
).where(CCH.c.contact_id.in_(bindparam("contacts", expanding=True)))

"""The rules a good survey program keeps: when to ask, whom not to ask, on which channel.

Each rule is a pure function over facts already loaded (`History`, `Reach`), so the purchase
path, the dispatcher's set-based claim and the reminders all call the same copy. Each rule that
says "no" gives a reason, stored on the invitation (`skip_reason`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from bot.definitions import DEFAULT_QUIET as DEFAULT_QUIET  # re-exported: one copy
from bot.definitions import parse_quiet
from bot.storage.models import Contact, ContactChannel, Invitation, InvitationState
from bot.survey.consent import granted
from bot.survey.phone_zone import number_zone
from channels import registry

S = InvitationState
NO_QUIET = (time(0, 0), time(0, 0))  # start == end: never quiet
# How recent a customer's last message keeps them `present` (their /start is claimed within
# seconds; minutes cover a busy dispatcher).
PRESENT = timedelta(minutes=10)
# States that mean "this contact already has a survey in flight".
# Skipped: the contact has no chat address (only an e-mail, from the Delighted-compatible API).
NO_CHAT_ADDRESS = "no_chat_address"
IN_FLIGHT = (S.SCHEDULED, S.SENDING, S.UNKNOWN, S.ASKED, S.AWAITING_REASON)


def zone(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def contact_zone(contact: Contact | None, fallback: str = "UTC") -> ZoneInfo:
    """The contact's time zone; else their phone number's (`number_zone`: the area code's, or the
    country's main one); else fallback (an erased contact's invitation has none)."""
    if contact is None:
        return zone(fallback) or ZoneInfo("UTC")
    tz = zone(contact.timezone)
    if tz is None and contact.phone:
        tz = zone(number_zone(contact.phone))
    return tz or zone(fallback) or ZoneInfo("UTC")


def survey_quiet(options: Mapping[str, object]) -> tuple[time, time]:
    """A survey's quiet hours, from its options."""
    return parse_quiet(options.get("quiet_hours"))


def on_sandbox(channels: Sequence[str]) -> bool:
    """The invitation goes only to test channels (the browser's pretend phone)."""
    return bool(channels) and all(registry.capabilities(c).sandbox for c in channels)


def timing(
    survey_delay: int,
    options: Mapping[str, object],
    channels: Sequence[str],
    *,
    delay: int | None = None,
    quiet: bool | None = None,
) -> tuple[timedelta, tuple[time, time]]:
    """The delay and quiet hours a new invitation on `channels` keeps: the survey's, unless
    the purchase asks otherwise. A tester on the sandbox sees the survey at once, at any hour,
    unless they ask for a delay or the quiet hours."""
    sandbox = on_sandbox(channels)
    minutes = (0 if sandbox else survey_delay) if delay is None else delay
    keep_quiet = (not sandbox) if quiet is None else quiet
    return timedelta(minutes=minutes), survey_quiet(options) if keep_quiet else NO_QUIET


def send_quiet(
    options: Mapping[str, object], channels: Sequence[str], *, present: bool = False
) -> tuple[time, time]:
    """The quiet hours that hold at send time: none on the sandbox (its due time already keeps
    the quiet hours a tester asked for) nor for a customer who is `present`, the survey's
    elsewhere."""
    return NO_QUIET if present or on_sandbox(channels) else survey_quiet(options)


def in_quiet(local: time, quiet: tuple[time, time]) -> bool:
    start, end = quiet
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end  # spans midnight


def outside_quiet_hours(when: datetime, tz: ZoneInfo, quiet: tuple[time, time]) -> datetime:
    """`when`, or the end of the quiet hours it falls in (in the customer's zone). Deferred,
    never dropped."""
    local = when.astimezone(tz)
    if not in_quiet(local.time(), quiet):
        return when
    end = local.replace(hour=quiet[1].hour, minute=quiet[1].minute, second=0, microsecond=0)
    if end <= local:
        end += timedelta(days=1)
    # Re-attach the zone: across a DST change the wall-clock end keeps its meaning.
    end = end.replace(tzinfo=tz)
    return end.astimezone(when.tzinfo)


def due_at(
    start: datetime,
    delay: timedelta,
    now: datetime,
    tz: ZoneInfo,
    quiet: tuple[time, time] = NO_QUIET,
) -> datetime:
    """When a survey goes out: `delay` after `start`, never in the past, and outside the quiet
    hours in the customer's zone `tz`."""
    return outside_quiet_hours(max(start + delay, now), tz, quiet)


@dataclass(frozen=True)
class History:
    """What the rules know of a contact's other invitations and channels."""

    in_flight: int  # other invitations still in flight (`IN_FLIGHT`)
    last_sent: datetime | None  # the latest send of another invitation
    stopped: frozenset[str]  # channels the contact opted out of
    consented: frozenset[str] = frozenset()  # channels whose latest consent is a grant
    # Nothing but an e-mail: no chat can reach the contact.
    no_address: bool = False


def needs_consent(options: Mapping[str, object]) -> frozenset[str]:
    """The channels a survey writes on first only with the customer's recorded opt-in:
    WhatsApp's business-initiated messages, when the survey says `whatsapp_optin = "required"`
    (https://developers.facebook.com/docs/whatsapp/overview/getting-opt-in)."""
    return frozenset({"whatsapp"}) if options.get("whatsapp_optin") == "required" else frozenset()


def unconsented(
    history: History, channels: Sequence[str], required: Collection[str]
) -> frozenset[str]:
    """Those of `channels` the survey needs an opt-in on that the contact has not given."""
    return frozenset(c for c in channels if c in required and c not in history.consented)


# The skip reason of an invitation cancelled because its customer was erased (bot.privacy).
ERASED = "erased"


def skip_reason(
    history: History,
    channels: Sequence[str],
    resurvey_days: int,
    now: datetime,
    fatigue_days: int = 0,
    required: Collection[str] = (),
) -> str | None:
    """Why this contact must not get a survey on `channels` now, or None. `fatigue_days`
    (CONTACT_FATIGUE_DAYS, 0: off): at most one survey per contact in that many days, over all
    surveys, transactional or relational. `required`: the channels the survey needs a recorded
    opt-in on (`needs_consent`); a channel without one is passed over, like an opted-out one."""
    if history.in_flight:
        return "open_invitation"
    last = history.last_sent
    if last is not None and now - last < timedelta(days=resurvey_days):
        return "resurvey_window"
    if last is not None and now - last < timedelta(days=fatigue_days):
        return "fatigue"
    if channels and all(c in history.stopped for c in channels):
        return "opted_out"
    if history.no_address and not on_sandbox(channels):
        # An e-mail only: npsbot surveys in chat (a survey page link would need an e-mail sent).
        return NO_CHAT_ADDRESS
    blocked = history.stopped | unconsented(history, channels, required)
    if channels and all(c in blocked for c in channels):
        return "no_consent"
    return None


def load_history(
    s: Session, contact_id: int, *, exclude: int | None = None, consent: bool = False
) -> History:
    """`History` for one contact, from the database (`exclude`: the invitation being decided;
    `consent`: read the consent history too, for a survey that `needs_consent`)."""
    others = [Invitation.contact_id == contact_id]
    if exclude is not None:
        others.append(Invitation.id != exclude)
    flying, last = s.execute(
        select(
            func.coalesce(func.sum(case((Invitation.state.in_(IN_FLIGHT), 1), else_=0)), 0),
            func.max(Invitation.sent_at),
        ).where(*others)
    ).one()
    stopped = s.scalars(
        select(ContactChannel.channel).where(
            ContactChannel.contact_id == contact_id, ContactChannel.opted_out_at.is_not(None)
        )
    )
    consented = granted(s.connection(), [contact_id])[contact_id] if consent else frozenset()
    return History(int(flying), last, frozenset(stopped), consented, _no_address(s, contact_id))


def _no_address(s: Session, contact_id: int) -> bool:
    """An e-mail, and no phone, no Telegram chat, no channel row still open (an opted-out row
    may hold only the opt-out, with no address yet). A contact with no address at all is a
    Telegram onboarding: its deep link (or survey page) reaches it."""
    contact = s.get(Contact, contact_id)  # already in the session on the purchase path
    if contact is None or not only_email(contact.email, contact.phone, contact.telegram_chat_id):
        return False
    chats = select(ContactChannel.id).where(
        ContactChannel.contact_id == contact_id, ContactChannel.opted_out_at.is_(None)
    )
    return s.scalar(chats.limit(1)) is None


def only_email(email: str | None, phone: str | None, chat_id: str | None) -> bool:
    """An e-mail and no chat address (see `_no_address`)."""
    return bool(email) and not phone and not chat_id


def load_histories(
    s: Session, contact_ids: Collection[int], *, consent: bool = False
) -> dict[int, History]:
    """`History` for many contacts in a few statements (a relational program's day): the same
    facts as `load_history`, each contact's own."""
    ids = list(contact_ids)
    flying = {cid: (0, None) for cid in ids}
    stopped: dict[int, set[str]] = {cid: set() for cid in ids}
    no_address: set[int] = set()
    for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
        for cid, count, last in s.execute(
            select(
                Invitation.contact_id,
                func.sum(case((Invitation.state.in_(IN_FLIGHT), 1), else_=0)),
                func.max(Invitation.sent_at),
            )
            .where(Invitation.contact_id.in_(chunk))
            .group_by(Invitation.contact_id)
        ):
            flying[cid] = (int(count or 0), last)
        for cid, channel in s.execute(
            select(ContactChannel.contact_id, ContactChannel.channel).where(
                ContactChannel.contact_id.in_(chunk), ContactChannel.opted_out_at.is_not(None)
            )
        ):
            stopped[cid].add(channel)
        emails = {
            cid
            for cid, email, phone, chat in s.execute(
                select(Contact.id, Contact.email, Contact.phone, Contact.telegram_chat_id).where(
                    Contact.id.in_(chunk), Contact.email.is_not(None)
                )
            )
            if only_email(email, phone, chat)
        }
        if emails:  # `_no_address`: and no channel row still open
            chats = select(ContactChannel.contact_id).where(
                ContactChannel.contact_id.in_(emails), ContactChannel.opted_out_at.is_(None)
            )
            no_address |= emails - set(s.scalars(chats))
    consented = granted(s.connection(), ids) if consent else {}
    return {
        cid: History(
            n, last, frozenset(stopped[cid]), consented.get(cid, frozenset()), cid in no_address
        )
        for cid, (n, last) in flying.items()
    }


@dataclass(frozen=True)
class Reach:
    """A contact's row on one channel, as the channel choice needs it."""

    address: str
    opted_out: bool = False
    unreachable: bool = False
    last_inbound: datetime | None = None  # the customer's last message on it


def choose_channel(
    order: Sequence[str],
    usable: Collection[str],
    known: Mapping[str, Reach],
    address_for: Callable[[str], str | None],
) -> tuple[str, str] | None:
    """The first channel in the invitation's `order` that is `usable` (configured, not tried)
    and reachable: (channel, address). `known` holds the contact's channel rows; a channel
    without one is reached at `address_for(channel)` if the contact has such an address."""
    for name in order:
        if name not in usable:
            continue
        reach = known.get(name)
        if reach is None:
            address = address_for(name)
            if address is not None:
                return name, address
            continue
        if not (reach.opted_out or reach.unreachable):
            return name, reach.address
    return None


def present(known: Mapping[str, Reach], now: datetime) -> bool:
    """The customer wrote to us moments ago (a Telegram /start that opened the survey's chat):
    awake and waiting, so quiet hours, there not to wake anyone, do not hold for them."""
    return any(
        r.last_inbound is not None and now - r.last_inbound < PRESENT for r in known.values()
    )


def in_session_window(
    last_inbound: datetime | None, window: timedelta | None, now: datetime
) -> bool:
    """Free-form text is allowed: the channel has no session window, or the customer's last
    message opened one that is still open."""
    if window is None:
        return True
    return last_inbound is not None and now - last_inbound < window

"""The rules a good survey program keeps: when to ask, whom not to ask, on which channel.

Each rule that says "no" gives a reason, stored on the invitation (`skip_reason`).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as phone_tz
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.storage.models import Contact, ContactChannel, Invitation, InvitationState, Survey

S = InvitationState
DEFAULT_QUIET = (time(21, 0), time(9, 0))
# States that mean "this contact already has a survey in flight".
IN_FLIGHT = (S.SCHEDULED, S.SENDING, S.UNKNOWN, S.ASKED, S.AWAITING_REASON)


def zone(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def contact_zone(contact: Contact, fallback: str = "UTC") -> ZoneInfo:
    """The contact's time zone; else the phone number's country's (first) zone; else fallback."""
    tz = zone(contact.timezone)
    if tz is None and contact.phone:
        try:
            names = phone_tz.time_zones_for_number(phonenumbers.parse(contact.phone, None))
        except phonenumbers.NumberParseException:
            names = ()
        tz = next((z for n in names if (z := zone(n)) is not None), None)
    return tz or zone(fallback) or ZoneInfo("UTC")


def parse_quiet(value: object) -> tuple[time, time]:
    """["21:00", "09:00"] from a survey file; ValueError naming the problem."""
    if value is None:
        return DEFAULT_QUIET
    if not (isinstance(value, list | tuple) and len(value) == 2):
        raise ValueError('quiet_hours must be two "HH:MM" times, e.g. ["21:00", "09:00"]')
    return (time.fromisoformat(str(value[0])), time.fromisoformat(str(value[1])))


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


def skip_reason(
    s: Session,
    survey: Survey,
    contact: Contact,
    channels: list[str],
    now: datetime,
    *,
    exclude: int | None = None,
) -> str | None:
    """Why this contact must not get this survey now, or None."""
    others = [Invitation.contact_id == contact.id]
    if exclude is not None:
        others.append(Invitation.id != exclude)
    open_count = s.scalar(
        select(func.count()).select_from(Invitation).where(*others, Invitation.state.in_(IN_FLIGHT))
    )
    if open_count:
        return "open_invitation"
    last_sent = s.scalar(select(func.max(Invitation.sent_at)).where(*others))
    if last_sent is not None and now - last_sent < timedelta(days=survey.resurvey_days):
        return "resurvey_window"
    stopped = set(
        s.scalars(
            select(ContactChannel.channel).where(
                ContactChannel.contact_id == contact.id, ContactChannel.opted_out_at.is_not(None)
            )
        )
    )
    if channels and all(c in stopped for c in channels):
        return "opted_out"
    return None

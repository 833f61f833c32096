"""Touchpoints: a survey's named entries with fixed metadata, their codes and links, and the
survey a code starts. The API, the CLI, the dashboard and the inbound path call these. Creating,
rotating and disabling one is an audit row (`touchpoint.<action>`) in its transaction.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.runtime import Runtime
from bot.storage.audit import By, record
from bot.storage.models import Invitation, InvitationState, Survey, Touchpoint
from bot.survey.codes import make_code
from bot.survey.conversation import Entry
from bot.survey.fields import Invalid, check_json, text
from bot.survey.rules import load_history, skip_reason
from channels.base import DeepLinking
from channels.errors import SendError

KEY = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
LINKS = ("whatsapp", "telegram", "sms", "web")
MAX_WINDOW = 24 * 365


class Conflict(ValueError):
    """The same key came before with a different body."""


@dataclass(frozen=True)
class Spec:
    key: str
    survey: str
    metadata: dict[str, Any]
    window_hours: int
    digest: str  # of the request body: the same key with another body is a conflict


def parse_touchpoint(data: Any) -> Spec:
    """Validate a touchpoint request body (API JSON, or the CLI's flags in the same shape)."""
    if not isinstance(data, dict):
        raise Invalid("body", "must be a JSON object")
    unknown = set(data) - {"key", "survey", "metadata", "window_hours"}
    if unknown:
        raise Invalid(sorted(unknown)[0], "unknown field")
    key = data.get("key")
    if not isinstance(key, str) or not KEY.fullmatch(key):
        raise Invalid("key", "must be 1-64 lower-case letters, digits, '.', '_' or '-'")
    survey = text(data, "survey", "survey", 64, required=True)
    assert survey is not None
    meta = data.get("metadata") or {}
    if not isinstance(meta, dict):
        raise Invalid("metadata", "must be an object")
    check_json(meta, "metadata")
    if "touchpoint" in meta:
        raise Invalid("metadata.touchpoint", "is set by npsbot (the touchpoint's key)")
    if len(json.dumps(meta)) > 4096:
        raise Invalid("metadata", "must be at most 4 KB of JSON")
    window = data.get("window_hours", 24)
    if isinstance(window, bool) or not isinstance(window, int) or not 0 <= window <= MAX_WINDOW:
        raise Invalid("window_hours", f"must be a whole number of hours from 0 to {MAX_WINDOW}")
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    return Spec(key, survey, meta, window, digest)


def save(rt: Runtime, spec: Spec, by: By) -> tuple[Touchpoint, bool]:
    """Create a touchpoint; the same body again answers the stored one (created False)."""
    try:
        return _save(rt, spec, by)
    except IntegrityError:
        return _save(rt, spec, by)  # the same key at once, or a code drawn twice: once more


def _audit(s: Session, by: By, now: datetime, action: str, key: str) -> None:
    record(
        s,
        at=now,
        actor=by.actor,
        action=f"touchpoint.{action}",
        target=f"touchpoint:{key}",
        source=by.source,
    )


def _save(rt: Runtime, spec: Spec, by: By) -> tuple[Touchpoint, bool]:
    now = rt.clock()
    with rt.db.session_for_update() as s:
        tp = find(s, spec.key)
        if tp is not None:
            if tp.request_hash != spec.digest:
                raise Conflict(f"touchpoint {spec.key!r} was created before with a different body")
            return tp, False
        survey = s.scalar(select(Survey).where(Survey.key == spec.survey))
        if survey is None:
            raise Invalid("survey", f"unknown survey {spec.survey!r}")
        tp = Touchpoint(
            key=spec.key,
            survey=survey,
            meta=spec.metadata,
            code=make_code(spec.key),
            enabled=True,
            window_hours=spec.window_hours,
            request_hash=spec.digest,
            created_at=now,
            updated_at=now,
        )
        s.add(tp)
        s.flush()
        _audit(s, by, now, "create", tp.key)
        return tp, True


def find(s: Session, key: str) -> Touchpoint | None:
    return s.scalar(select(Touchpoint).where(Touchpoint.key == key))


def listed(s: Session) -> Sequence[Touchpoint]:
    return s.scalars(select(Touchpoint).order_by(Touchpoint.key)).all()


def rotate(rt: Runtime, key: str, by: By) -> Touchpoint:
    """A new code (the old one answers "no longer valid"); a disabled touchpoint is enabled."""
    for _ in range(3):
        try:
            return _change(rt, key, by, "rotate", code=make_code(key), enabled=True)
        except IntegrityError:
            continue  # the new code was drawn before: draw again
    raise RuntimeError("no free code after three draws")


def disable(rt: Runtime, key: str, by: By) -> Touchpoint:
    """Its code answers "no longer valid" until it is rotated."""
    return _change(rt, key, by, "disable", enabled=False)


def _change(rt: Runtime, key: str, by: By, action: str, **values: Any) -> Touchpoint:
    with rt.db.session_for_update() as s:
        tp = find(s, key)
        if tp is None:
            raise LookupError(key)
        for name, value in values.items():
            setattr(tp, name, value)
        tp.updated_at = rt.clock()
        _audit(s, by, tp.updated_at, action, key)
        s.flush()
        return tp


def links(rt: Runtime, tp: Touchpoint) -> dict[str, dict[str, str]]:
    """Each link that starts the survey ({"url": …}), or why there is none ({"reason": …}).
    The Telegram link may ask the provider once: never call this inside a transaction."""
    st, out = rt.settings, {}
    wa = (st.twilio_whatsapp_from or "").removeprefix("whatsapp:")
    if "whatsapp" in rt.channels and wa:
        out["whatsapp"] = {"url": f"https://wa.me/{wa.lstrip('+')}?text={quote(tp.code)}"}
    else:
        out["whatsapp"] = {"reason": "WhatsApp is not configured (TWILIO_WHATSAPP_FROM)"}
    if "telegram" in rt.channels:
        try:
            out["telegram"] = {"url": cast(DeepLinking, rt.channels["telegram"]).deep_link(tp.code)}
        except SendError as exc:
            out["telegram"] = {"reason": f"Telegram did not name the bot: {exc}"}
    else:
        out["telegram"] = {"reason": "Telegram is not configured (TELEGRAM_BOT_TOKEN)"}
    if st.public_base_url:
        # The web survey page: for someone with no chat at hand (a receipt, a QR without WhatsApp).
        out["web"] = {"url": f"{st.public_base_url.rstrip('/')}/s/t/{quote(tp.code)}"}
    else:
        out["web"] = {"reason": "PUBLIC_BASE_URL is not set: the page's address is not known"}
    if "sms" in rt.channels and st.twilio_sms_from:
        out["sms"] = {"url": f"sms:{st.twilio_sms_from}?body={quote(tp.code)}"}
    elif "sms" in rt.channels:
        out["sms"] = {"reason": "SMS is sent from a messaging service: no number to link to"}
    else:
        out["sms"] = {"reason": "SMS is not configured (TWILIO_SMS_FROM)"}
    return out


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def touchpoint_json(tp: Touchpoint, link_map: dict[str, dict[str, str]] | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "key": tp.key,
        "survey": tp.survey.key,
        "metadata": tp.meta,
        "code": tp.code,
        "enabled": tp.enabled,
        "window_hours": tp.window_hours,
        "created_at": _iso(tp.created_at),
        "updated_at": _iso(tp.updated_at),
    }
    if link_map is not None:
        body["links"] = link_map
    return body


def by_code(s: Session, code: str) -> Touchpoint | None:
    return s.scalar(select(Touchpoint).where(Touchpoint.code == code))


def entry(s: Session, tp: Touchpoint | None, contact_id: int, channel: str, now: datetime) -> Entry:
    """What a code meets: a live touchpoint, and why its survey cannot start now (if so)."""
    if tp is None or not tp.enabled:
        return Entry(valid=False)
    since = now - timedelta(hours=tp.window_hours)
    recent = s.scalar(
        select(Invitation.id)
        .where(
            Invitation.contact_id == contact_id,
            Invitation.created_at > since,
            Invitation.meta["touchpoint"].as_string() == tp.key,
        )
        .limit(1)
    )
    if recent is not None:
        return Entry(valid=True, skip="touchpoint_window", key=tp.key)
    history = load_history(s, contact_id)
    why = skip_reason(history, [channel], tp.survey.resurvey_days, now)
    return Entry(valid=True, skip=why, key=tp.key)


def metadata(tp: Touchpoint) -> dict[str, Any]:
    """What a response from the touchpoint carries: its metadata and its key."""
    return {**tp.meta, "touchpoint": tp.key}


def start(
    s: Session, tp: Touchpoint, contact_id: int, language: str, channel: str, now: datetime
) -> Invitation:
    """The touchpoint's survey, due now on the channel the code came on (the customer is
    present: the dispatcher keeps no quiet hours for them)."""
    inv = Invitation(
        survey_id=tp.survey_id,
        contact_id=contact_id,
        state=InvitationState.SCHEDULED,
        language=language,
        channels=[channel],
        occurred_at=now,
        due_at=now,
        meta=metadata(tp),
        created_at=now,
        updated_at=now,
    )
    s.add(inv)
    s.flush()
    return inv

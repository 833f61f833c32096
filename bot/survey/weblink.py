"""The survey page's URL, `/s/<token>`, and the invitations it opens.

The token is the invitation's id signed with SECRET_KEY (itsdangerous, HMAC-SHA256, its own
salt): unguessable, bound to one invitation, and stored nowhere — the same URL each time the API
is asked, with no column and no migration. It expires with the invitation (`deadline`: the
invitation's row says, never the token), so one source of truth decides; changing SECRET_KEY
invalidates every URL handed out (as it does the Telegram score buttons).

`start_web_survey` is the entry of a touchpoint without a chat (a QR scanned by someone without
WhatsApp): an anonymous contact, an invitation asked on the web at once, and its URL.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy.orm import Session

from bot.config import LANGUAGES
from bot.runtime import Runtime
from bot.storage.messages import SentRow, write_sent
from bot.storage.models import Contact, Invitation, InvitationState
from bot.survey.contacts import PAGE_CHANNELS, ensure_channel
from bot.survey.purchases import survey_by_key
from bot.texts import texts_for
from channels.base import DeliveryStatus, Outbound
from channels.web import address

S = InvitationState
(WEB,) = PAGE_CHANNELS
SALT = "npsbot.survey-url"
PATH = "/s/"
# Not asked on any channel yet (or its send failed, or is undecided): the page asks it now.
OPENS = (S.SCHEDULED, S.SENDING, S.UNKNOWN, S.FAILED)


@lru_cache(maxsize=4)
def _signer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=SALT, signer_kwargs={"digest_method": hashlib.sha256})


def token(secret: str, invitation_id: int) -> str:
    return _signer(secret).dumps(invitation_id)


def read_token(secret: str, raw: str) -> int | None:
    """The invitation a genuine token names; None when forged, altered or malformed."""
    try:
        value = _signer(secret).loads(raw)
    except (BadData, ValueError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def survey_url(rt: Runtime, invitation_id: int, base: str | None = None) -> str:
    """The page's URL: absolute from PUBLIC_BASE_URL, else from `base` (the request's own root,
    as the caller saw it), else the path alone."""
    root = (rt.settings.public_base_url or base or "").rstrip("/")
    return f"{root}{PATH}{token(rt.settings.secret_key, invitation_id)}"


def deadline(inv: Invitation) -> datetime:
    """Until when the invitation can be answered: its expiry once asked; before that, the expiry
    it would have if asked when due."""
    return inv.expires_at or inv.due_at + timedelta(hours=inv.survey.expiry_hours)


def open_on_web(rt: Runtime, s: Session, inv: Invitation, now: datetime) -> None:
    """The customer is on the page: the contact's web address, and an invitation not asked yet
    is asked there now (what the dispatcher records after a send, with the question's row).
    Callers pass a live contact's invitation (an erased one's page answers nothing)."""
    contact = inv.contact
    assert contact is not None
    to = address(contact.id)
    ensure_channel(s, contact, WEB, to)
    if inv.state not in OPENS:
        return
    inv.state, inv.channel, inv.lease_until = S.ASKED, WEB, None
    inv.sent_at = now
    inv.expires_at = now + timedelta(hours=inv.survey.expiry_hours)
    texts = texts_for(
        inv.language,
        inv.survey.texts,
        default=rt.settings.default_language,
        business=rt.settings.business_name,
    )
    msg = Outbound(channel=WEB, to=to, text=texts("question"), ref=f"inv-{inv.id}")
    row = SentRow(msg, f"web-q-{inv.id}", DeliveryStatus.SENT, contact.id, inv.id, "question", now)
    s.flush()
    write_sent(s.connection(), [row])


def start_web_survey(
    rt: Runtime,
    survey_key: str,
    metadata: Mapping[str, Any],
    now: datetime,
    *,
    language: str | None = None,
    base: str | None = None,
) -> str:
    """A survey answered on the web by someone npsbot does not know (a QR without a chat): a
    new anonymous contact (in `language`, else DEFAULT_LANGUAGE), an invitation asked on the
    web now carrying `metadata`, and its page's URL (see `survey_url`). Raises LookupError for
    an unknown survey. It writes rows: call it when a person starts, not for a link preview."""
    return survey_url(rt, open_web_invitation(rt, survey_key, metadata, now, language), base)


def open_web_invitation(
    rt: Runtime,
    survey_key: str,
    metadata: Mapping[str, Any],
    now: datetime,
    language: str | None = None,
) -> int:
    """`start_web_survey` without the URL: the new invitation's id."""
    lang = language if language in LANGUAGES else rt.settings.default_language
    with rt.db.session_for_update() as s:
        survey = survey_by_key(s, survey_key)
        if survey is None:
            raise LookupError(f"unknown survey {survey_key!r}")
        contact = Contact(language=lang, created_at=now)
        inv = Invitation(
            survey=survey,
            contact=contact,
            state=S.SCHEDULED,
            language=lang,
            channels=[WEB],
            occurred_at=now,
            due_at=now,
            meta=dict(metadata),
            created_at=now,
        )
        s.add(inv)
        s.flush()
        open_on_web(rt, s, inv, now)
        return inv.id

"""The contract every channel implements.

A channel is thin: a provider's webhook request in, normalised inbound messages and delivery
updates out; a normalised outbound message in, one provider call (or an inline webhook reply) out.
It knows nothing about surveys. Nothing here imports a web framework: webhooks hand channels a
plain `WebRequest` and get a plain `WebResponse` back.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, Protocol, runtime_checkable


@dataclass(frozen=True)
class WebRequest:
    """A webhook request as the web layer received it (framework-neutral)."""

    method: str
    url: str  # the URL as seen by this process (scheme://host/path?query)
    headers: Mapping[str, str]  # case-insensitive lookups go through `header()`
    form: Mapping[str, str] = field(default_factory=dict)  # decoded form fields (last value wins)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        low = name.lower()
        for key, value in self.headers.items():
            if key.lower() == low:
                return value
        return None


@dataclass(frozen=True)
class WebResponse:
    """What the webhook answers to the provider."""

    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"


class OptOutKind(enum.StrEnum):
    """A provider-level opt-out signal (Twilio Advanced Opt-Out, Telegram block)."""

    STOP = "stop"
    START = "start"
    HELP = "help"


@dataclass(frozen=True)
class Inbound:
    """One message a person sent us, normalised."""

    channel: str  # registry name, e.g. "sms", "whatsapp", "telegram", "sandbox"
    provider_id: str  # unique per channel (MessageSid, update_id, …): the idempotency key
    sender: str  # the channel address: "+5215512345678", "whatsapp:+52…", a Telegram chat id
    text: str = ""
    received_at: datetime | None = None
    sender_name: str | None = None
    media_count: int = 0
    # The data of a tapped button (Telegram callback_data, a WhatsApp quick-reply payload).
    button: str | None = None
    # Provider id of the button's callback, to be acknowledged (Telegram callback query id).
    callback_id: str | None = None
    # Provider id of the message the sender replied to (threads in staff chats).
    reply_to: str | None = None
    # A deep-link start payload (Telegram `/start <payload>`).
    start_payload: str | None = None
    opt_out: OptOutKind | None = None
    # Group and channel posts never enter a customer survey.
    chat_type: Literal["private", "group"] = "private"
    chat_id: str | None = None  # the chat the message was posted in (differs from sender in groups)
    language_hint: str | None = None  # the client's language, when the provider tells


class DeliveryStatus(enum.StrEnum):
    """Outbound message states, in the only order they may move (see `advances`)."""

    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    UNDELIVERED = "undelivered"


_STATUS_RANK = {
    DeliveryStatus.QUEUED: 0,
    DeliveryStatus.SENT: 1,
    DeliveryStatus.DELIVERED: 2,
    DeliveryStatus.READ: 3,
    DeliveryStatus.FAILED: 4,
    DeliveryStatus.UNDELIVERED: 4,
}


def advances(current: DeliveryStatus | None, new: DeliveryStatus) -> bool:
    """Statuses only move forward: a late "sent" never overwrites "delivered" or "failed"."""
    if current is None:
        return True
    return _STATUS_RANK[new] > _STATUS_RANK[current]


@dataclass(frozen=True)
class StatusUpdate:
    """A provider's delivery report for one of our outbound messages."""

    channel: str
    provider_id: str
    status: DeliveryStatus
    error_code: str | None = None
    at: datetime | None = None
    # The provider refused free-form text after the fact: outside the session window.
    outside_window: bool = False


@dataclass(frozen=True)
class Button:
    label: str
    data: str  # what comes back in `Inbound.button` when tapped


@dataclass(frozen=True)
class Template:
    """A provider-approved template (WhatsApp business-initiated messages)."""

    sid: str  # Twilio ContentSid
    variables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Outbound:
    """One message we want a person to receive."""

    channel: str
    to: str  # the channel address
    text: str
    # Rows of buttons. Channels without buttons follow the fallback ladder (`render_text`).
    buttons: tuple[tuple[Button, ...], ...] = ()
    # When the buttons only repeat what the text already asks ("0 to 10"), text channels drop them.
    buttons_optional: bool = False
    template: Template | None = None
    # Free-form text is allowed only inside the provider's session window (WhatsApp: 24 h).
    needs_template: bool = False
    reply_to: str | None = None  # provider id of the message this answers (threads)
    # Acknowledge this button callback, optionally editing the message it came from.
    callback_id: str | None = None
    edit_of: str | None = None
    # Our own message id, for delivery-status callbacks and logs.
    ref: str | None = None


@dataclass(frozen=True)
class Parsed:
    """What a webhook request contained."""

    messages: tuple[Inbound, ...] = ()
    statuses: tuple[StatusUpdate, ...] = ()


@dataclass(frozen=True)
class Sent:
    """A provider accepted an outbound message."""

    provider_id: str
    status: DeliveryStatus = DeliveryStatus.SENT
    segments: int | None = None  # billed SMS segments, when known


def render_text(msg: Outbound) -> str:
    """The fallback ladder for channels without buttons: buttons become numbered text."""
    flat = [b for row in msg.buttons for b in row]
    if not flat or msg.buttons_optional:
        return msg.text
    lines = [msg.text, ""]
    lines += [f"{i}. {b.label}" for i, b in enumerate(flat, start=1)]
    return "\n".join(lines)


@dataclass(frozen=True)
class Capabilities:
    """Provider facts the rest of npsbot acts on without naming a provider (see the registry)."""

    # Tappable buttons; without them, `render_text`'s numbered fallback.
    buttons: bool = False
    # Replies can ride in the webhook's own answer (TwiML).
    inline_replies: bool = False
    # The channel's address is the customer's phone number (E.164, maybe with a prefix).
    phone_address: bool = False
    # The prefix that turns a phone number into this channel's address ("whatsapp:").
    address_prefix: str = ""
    # Free-form text only within this long of the customer's last message; else a template.
    session_window: timedelta | None = None
    # A business cannot write first: the customer opens a deep link (`/start <payload>`).
    needs_deep_link: bool = False
    # Staff can work cases from a group chat on this channel (cards, buttons, threaded replies).
    staff_chat: bool = False
    # A test channel: customers are made on the sandbox page, never from a phone number.
    sandbox: bool = False
    # Messages per second a sender may send by default; None: no provider limit.
    rate: int | None = None
    # How people call it (staff-facing texts); empty: the registry name.
    label: str = ""
    # The provider gives up on a failed webhook within seconds: what arrives while the database
    # is away is spooled locally and acknowledged (bot/inbound/spool.py), not answered 503.
    brief_webhook_retries: bool = False
    # npsbot's own survey page (/s/<token>): nothing to send (everyone is reachable at their
    # invitation's URL), and answers arrive as form fields (a score, a why), never as chat text.
    page: bool = False


@runtime_checkable
class Channel(Protocol):
    """One provider. Implementations live in one module each, registered in `channels.registry`."""

    name: str
    route: str  # webhooks arrive at /webhooks/<route> (several channels may share one)
    supports_buttons: bool
    # True when replies can be given inline in the webhook's answer (TwiML).
    inline_replies: bool

    def verify(self, request: WebRequest) -> bool:
        """Is this request really from the provider? (signature, secret token)"""

    def parse(self, request: WebRequest) -> Parsed:
        """Turn a verified webhook request into normalised messages and status updates.

        Raises `BadPayload` for a request the provider would never send."""

    def respond(self, request: WebRequest, replies: Sequence[Outbound]) -> WebResponse:
        """The webhook's answer, carrying `replies` inline when the channel can."""

    def send(self, msg: Outbound) -> Sent:
        """Deliver one message through the provider's API. Raises a `SendError` subclass."""


@runtime_checkable
class DeepLinking(Protocol):
    """A channel whose customers open a link before the business may write (`needs_deep_link`)."""

    def deep_link(self, payload: str) -> str:
        """The link that starts the chat and sends `payload` back (`Inbound.start_payload`)."""


@runtime_checkable
class WebhookAdmin(Protocol):
    """A channel whose webhook is registered through the provider's API (`npsbot telegram`)."""

    def webhook_url(self) -> str | None:
        """Where this app receives the channel's webhooks (None without PUBLIC_BASE_URL)."""

    def set_webhook(
        self,
        url: str,
        *,
        allowed_updates: Sequence[str] | None = None,
        drop_pending_updates: bool = False,
    ) -> bool:
        """Register `url` with the provider; `allowed_updates` None means the channel's own."""

    def delete_webhook(self, *, drop_pending_updates: bool = False) -> bool:
        """Unregister the webhook (the provider then keeps updates for polling)."""


@runtime_checkable
class Polling(Protocol):
    """A channel that can fetch updates itself when there is no public URL for webhooks."""

    def poll(self, on_request: Callable[[WebRequest], None], *, stop: threading.Event) -> None:
        """Hand each update to `on_request` as the webhook request it would have been."""


# --- what channels read from configuration ---------------------------------------------------
# Read-only properties, so `bot.config.Settings` (a frozen dataclass) satisfies them by shape.
class SandboxSettings(Protocol):
    @property
    def sandbox_enabled(self) -> bool: ...


class TwilioSettings(Protocol):
    @property
    def public_base_url(self) -> str | None: ...
    @property
    def http_timeout(self) -> float: ...
    @property
    def twilio_account_sid(self) -> str | None: ...
    @property
    def twilio_auth_token(self) -> str | None: ...
    @property
    def twilio_sms_from(self) -> str | None: ...
    @property
    def twilio_messaging_service_sid(self) -> str | None: ...
    @property
    def twilio_whatsapp_from(self) -> str | None: ...
    @property
    def twilio_api_url(self) -> str | None: ...
    @property
    def sms_smart_encoding(self) -> bool: ...


class TelegramSettings(Protocol):
    @property
    def public_base_url(self) -> str | None: ...
    @property
    def http_timeout(self) -> float: ...
    @property
    def telegram_bot_token(self) -> str | None: ...
    @property
    def telegram_webhook_secret(self) -> str | None: ...
    @property
    def telegram_api_url(self) -> str | None: ...


class ChannelSettings(SandboxSettings, TwilioSettings, TelegramSettings, Protocol):
    """Everything the registry's channels read; each factory takes only its own part."""

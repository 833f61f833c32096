"""Table-driven channel cases (after nyaruka/courier): adding a channel adds rows, not machinery.

Inbound rows are replayed by `tests/channels/test_inbound.py` through the real Flask app against
`POST /webhooks/<route>`; outbound rows by `tests/channels/test_outbound.py` through the real
provider client against a loopback fake provider. Each channel module under `tests/channels/`
named `rows_<channel>.py` exports `INBOUND: list[InboundCase]` and `OUTBOUND: list[OutboundCase]`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Signing = Literal["valid", "invalid", "missing"]


@dataclass(frozen=True)
class InboundCase:
    label: str  # pytest id, e.g. "sms-plain-text"
    route: str  # the webhook route: /webhooks/<route>
    payload: str  # file under tests/payloads/<dir>/, e.g. "twilio/sms_text.form"
    signing: Signing = "valid"
    path: str = ""  # extra path after the route, e.g. "/status"
    headers: Mapping[str, str] = field(default_factory=dict)
    # Replace form fields / JSON keys of the payload before signing (e.g. another MessageSid).
    overrides: Mapping[str, Any] = field(default_factory=dict)
    # What the webhook must answer and store.
    status: int = 200
    channel: str | None = None  # stored inbound message's channel (None: nothing stored)
    text: str | None = None
    sender: str | None = None
    provider_id: str | None = None
    # Substrings the HTTP response body must contain (TwiML reply text, …).
    body_contains: tuple[str, ...] = ()
    # Send the same request twice; the second must store nothing new and answer the same.
    duplicate: bool = False
    # Delivery-status rows: (provider id of a stored outbound message, status it must have after).
    expect_status: tuple[str, str] | None = None
    # Prepare state before the request: "open_survey" (an invitation asked on this sender), …
    given: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProviderAnswer:
    """What the loopback fake provider answers to the next request."""

    status: int = 200
    body: Mapping[str, Any] | None = None  # None: the fake's default success body
    delay: float = 0.0  # seconds before answering (slow provider)


@dataclass(frozen=True)
class OutboundCase:
    label: str
    channel: str  # registry name
    message: Mapping[str, Any]  # keyword arguments of channels.base.Outbound
    answers: tuple[ProviderAnswer, ...] = (ProviderAnswer(),)
    # The exact request(s) the provider must receive: method, path (no query), and form/JSON fields.
    expect_requests: tuple[Mapping[str, Any], ...] = ()
    # The result: "sent" or the name of a channels.errors class ("Throttled", "ContactStopped"…).
    expect: str = "sent"
    expect_retryable: bool | None = None
    expect_provider_id: str | None = None
    expect_retry_after: float | None = None

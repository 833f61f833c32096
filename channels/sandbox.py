"""The sandbox channel: a pretend phone in the browser (`/sandbox`), for trying npsbot locally.

Inbound: `POST /webhooks/sandbox` with JSON `{"id": "...", "from": "sandbox-…", "text": "...",
"button": null}`; replies come back inline as JSON. Outbound messages are only recorded (the
page reads the conversation from the database), so no credentials are needed.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from channels.base import (
    Inbound,
    Outbound,
    Parsed,
    SandboxSettings,
    Sent,
    WebRequest,
    WebResponse,
)
from channels.errors import BadPayload

SECRETS: tuple[str, ...] = ()  # no credentials
# A customer's address on the page: "sandbox-" and up to 56 lowercase letters, digits or dashes
# (it travels in a URL, /sandbox?address=…).
ADDRESS = re.compile(r"sandbox-[a-z0-9-]{1,56}")


def new_address() -> str:
    return f"sandbox-{secrets.token_hex(6)}"


def check_address(raw: str) -> str:
    """A valid sandbox address, lowercased; ValueError saying what one looks like."""
    address = raw.strip().lower()
    if not ADDRESS.fullmatch(address):
        raise ValueError(f"not a sandbox address (like sandbox-1a2b3c): {raw!r}")
    return address


class Sandbox:
    name = "sandbox"
    route = "sandbox"
    supports_buttons = True
    inline_replies = True

    def verify(self, request: WebRequest) -> bool:
        # Local play only: the sandbox is disabled in production (SANDBOX_ENABLED=false).
        return True

    def parse(self, request: WebRequest) -> Parsed:
        try:
            data: Any = json.loads(request.body or b"null")
        except ValueError as exc:
            raise BadPayload("body must be JSON") from exc
        if not isinstance(data, dict):
            raise BadPayload("body must be a JSON object")
        sender, text = data.get("from"), data.get("text", "")
        if not isinstance(sender, str) or not ADDRESS.fullmatch(sender):
            raise BadPayload("`from` must be a sandbox address like sandbox-1a2b")
        if not isinstance(text, str) or len(text) > 4096:
            raise BadPayload("`text` must be a string of at most 4096 characters")
        button = data.get("button")
        if button is not None and not isinstance(button, str):
            raise BadPayload("`button` must be a string")
        return Parsed(
            messages=(
                Inbound(
                    channel=self.name,
                    provider_id=str(data.get("id") or uuid.uuid4()),
                    sender=sender,
                    text=text,
                    button=button,
                    received_at=datetime.now(UTC),
                ),
            )
        )

    def respond(self, request: WebRequest, replies: Sequence[Outbound]) -> WebResponse:
        body = {"replies": [asdict(r) for r in replies]}
        return WebResponse(200, json.dumps(body).encode(), "application/json")

    def send(self, msg: Outbound) -> Sent:
        return Sent(provider_id=f"sbx-{uuid.uuid4().hex}")


def build(settings: SandboxSettings) -> Sandbox | None:
    return Sandbox() if settings.sandbox_enabled else None

"""Every provider's webhook, whatever the channel: verify → parse → apply each message
(`receive.handle_inbound`) and each delivery report (`statuses.apply_status`) → answer."""

from __future__ import annotations

import json
import logging
from typing import Any

from bot.inbound.receive import handle_inbound
from bot.inbound.statuses import apply_status
from bot.runtime import Runtime
from channels.base import Outbound, WebRequest, WebResponse
from channels.errors import BadPayload

log = logging.getLogger(__name__)


def json_response(status: int, **body: Any) -> WebResponse:
    return WebResponse(status, json.dumps(body).encode(), "application/json")


def handle_webhook(rt: Runtime, route: str, req: WebRequest) -> WebResponse:
    channel = rt.route(route)
    if channel is None:
        return json_response(
            404, error="not_found", reason=f"no channel is configured for {route!r}"
        )
    if not channel.verify(req):
        return json_response(403, error="forbidden", reason="missing or invalid signature")
    try:
        parsed = channel.parse(req)
    except BadPayload as exc:
        log.warning("%s webhook refused (400): %s", route, exc)
        return json_response(400, error="bad_request", reason=str(exc))
    replies: list[Outbound] = []
    for msg in parsed.messages:
        replies += handle_inbound(rt, msg, inline=channel.inline_replies)
    for status in parsed.statuses:
        apply_status(rt, status)
    return channel.respond(req, replies if channel.inline_replies else [])

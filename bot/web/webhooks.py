"""`POST /webhooks/<route>[/<sub>]`: every provider's webhooks, through one code path."""

from __future__ import annotations

from urllib.parse import parse_qsl

from flask import Blueprint, Response, request

from bot.inbound.webhook import handle_webhook
from bot.web.context import runtime
from channels.base import WebRequest

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


def web_request() -> WebRequest:
    body = request.get_data(cache=True)
    form: dict[str, str] = {}
    if request.mimetype == "application/x-www-form-urlencoded":
        # The body, decoded directly (no werkzeug form stream or MultiDict for a flat form).
        # Last value wins, as WebRequest says.
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return WebRequest(
        method=request.method,
        url=request.url,
        headers=dict(request.headers.items()),
        form=form,
        body=body,
    )


@bp.post("/<route>")
@bp.post("/<route>/<sub>")
def webhook(route: str, sub: str | None = None) -> Response:
    answer = handle_webhook(runtime(), route, web_request())
    return Response(answer.body, status=answer.status, content_type=answer.content_type)

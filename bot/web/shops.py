"""`POST /integrations/<platform>/<shop key>`: shops' signed order webhooks
(bot.integrations.shops.receive does the work; this turns Flask's request into a Delivery)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from bot.integrations.shops.common import Delivery
from bot.integrations.shops.receive import handle
from bot.web.context import runtime

bp = Blueprint("shops", __name__, url_prefix="/integrations")


@bp.post("/<platform>/<key>")
def order_webhook(platform: str, key: str) -> tuple[Response, int]:
    delivery = Delivery(
        headers={k.lower(): v for k, v in request.headers.items()},
        body=request.get_data(cache=False),  # the raw bytes the signature covers
    )
    reply = handle(runtime(), platform, key, delivery)
    return jsonify(reply.body), reply.status

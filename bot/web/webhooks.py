"""`POST /webhooks/<route>[/<sub>]`: every provider's webhooks, through one code path.

For a provider that gives up within seconds (Twilio), a verified webhook the database cannot
take now is kept in the local spool and acknowledged (`bot.inbound.spool`); so is every one
that arrives while older ones wait there, so a customer's messages apply in arrival order."""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl

from flask import Blueprint, Flask, Response, current_app, request
from flask.blueprints import BlueprintSetupState
from sqlalchemy.exc import SQLAlchemyError

from bot.inbound import spool
from bot.inbound.webhook import handle_webhook, json_response
from bot.runtime import Runtime
from bot.web.context import runtime
from channels import registry
from channels.base import Channel, WebRequest
from channels.errors import BadPayload

log = logging.getLogger(__name__)

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
    rt = runtime()
    req = web_request()
    channel = rt.route(route)
    spools = channel is not None and registry.capabilities(channel.name).brief_webhook_retries
    waiting = spools and spool.files(spool.spool_dir(rt.settings))
    if waiting and channel is not None and channel.verify(req):
        try:
            channel.parse(req)
        except BadPayload:
            pass  # answered 400 below, as always
        else:
            return _spool(rt, channel, route, req)
    try:
        answer = handle_webhook(rt, route, req)
    except SQLAlchemyError as exc:
        # handle_webhook verified and parsed it before touching the database.
        if not (spools and channel is not None and spool.retryable(exc)):
            raise
        log.warning("storage unavailable (%s): spooling the %s webhook", type(exc).__name__, route)
        return _spool(rt, channel, route, req)
    return Response(answer.body, status=answer.status, content_type=answer.content_type)


def _spool(rt: Runtime, channel: Channel, route: str, req: WebRequest) -> Response:
    if not spool.writer(rt.settings).append(route, req):
        full = json_response(503, error="storage_unavailable", reason="spool full, retry later")
        return Response(full.body, status=full.status, content_type=full.content_type)
    _replayer(current_app, rt).kick()
    answer = channel.respond(req, [])  # an empty TwiML: the replies leave through the outbox
    return Response(answer.body, status=answer.status, content_type=answer.content_type)


def _replayer(app: Flask, rt: Runtime) -> spool.Replayer:
    replayer = app.extensions.get("npsbot_spool_replayer")
    if replayer is None:
        replayer = app.extensions.setdefault(
            "npsbot_spool_replayer", spool.Replayer(rt, spool.spool_dir(rt.settings))
        )
    assert isinstance(replayer, spool.Replayer)
    return replayer


@bp.record_once
def _replay_at_start(state: BlueprintSetupState) -> None:
    # What a previous process spooled (it may have been killed) is replayed by this one.
    app = state.app
    rt = app.extensions["npsbot"]
    if isinstance(app, Flask) and spool.files(spool.spool_dir(rt.settings)):
        _replayer(app, rt).kick()

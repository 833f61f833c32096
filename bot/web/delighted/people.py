"""Delighted's people, unsubscribes, bounces and SMS autopilot over npsbot's contacts."""

from __future__ import annotations

from typing import Any

from flask import g, jsonify

from bot.integrations.delighted import autopilot
from bot.integrations.delighted import people as ops
from bot.integrations.delighted.shapes import whole
from bot.web.context import runtime
from bot.web.delighted.core import body, bp, delighted_api, error, paged, params, route

OK = {"ok": True}


@route("/people", ["POST"])
@delighted_api
def create_person() -> Any:
    rt = runtime()
    return jsonify(ops.create_person(rt, ops.parse_person(body(), rt.settings.default_country)))


def _cursor(args: dict[str, Any]) -> int:
    return whole(args.get("page_info"), "page_info", 0, 2**62, 0)


@route("/people", ["GET"])
@delighted_api
def list_people() -> Any:
    args, rt = params(), runtime()
    with rt.db.session() as s:
        items, cursor = ops.list_people(s, args, _cursor(args), rt.settings.default_country)
    return paged(items, cursor)


@route("/people/<identifier>", ["DELETE"])
@delighted_api
def delete_person(identifier: str) -> Any:
    """An erasure: the person and what names them (responses stay, anonymous)."""
    ops.delete_person(runtime(), identifier, g.actor, g.source)
    return jsonify(OK), 202


@route("/people/<identifier>/survey_requests/pending", ["DELETE"])
@delighted_api
def delete_pending(identifier: str) -> Any:
    ops.cancel_pending(runtime(), identifier, g.actor, g.source)
    return jsonify(OK)


@route("/unsubscribes", ["POST"])
@delighted_api
def unsubscribe() -> Any:
    data = body()
    if data.get("person_id"):
        who = str(data["person_id"])
    elif data.get("person_phone_number"):
        who = f"phone_number:{data['person_phone_number']}"
    else:
        who = f"email:{data.get('person_email') or ''}"
    ops.unsubscribe(runtime(), who, g.actor, g.source)
    return jsonify(OK)


@route("/unsubscribes", ["GET"])
@delighted_api
def unsubscribes() -> Any:
    with runtime().db.session() as s:
        return jsonify(ops.unsubscribes(s, params()))


@route("/bounces", ["GET"])
@delighted_api
def bounces() -> Any:
    with runtime().db.session() as s:
        return jsonify(ops.bounces(s, params()))


@route("/autopilot/sms", ["GET"])
@delighted_api
def autopilot_configuration() -> Any:
    with runtime().db.session() as s:
        return jsonify(autopilot.configuration(s))


@route("/autopilot/sms/memberships", ["GET"])
@delighted_api
def autopilot_memberships() -> Any:
    args = params()
    per_page = whole(args.get("per_page"), "per_page", 1, 100, 20)
    with runtime().db.session() as s:
        items, cursor = autopilot.memberships(s, per_page, _cursor(args))
    return paged(items, cursor)


@route("/autopilot/sms/memberships", ["POST"])
@delighted_api
def autopilot_add() -> Any:
    return jsonify(autopilot.add(runtime(), body(), g.actor, g.source))


@route("/autopilot/sms/memberships", ["DELETE"])
@delighted_api
def autopilot_remove() -> Any:
    return jsonify(autopilot.remove(runtime(), body(), g.actor, g.source))


@bp.route("/<path:_rest>", methods=["GET", "POST", "PUT", "DELETE"])
@delighted_api
def not_covered(_rest: str) -> Any:
    """Delighted's other endpoints (e-mail autopilot, web platform…): its 404, not npsbot's."""
    return error(404, "Not found: not covered by npsbot's Delighted-compatible API")

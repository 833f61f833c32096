"""Delighted's survey responses and metrics over npsbot's responses."""

from __future__ import annotations

from typing import Any

from flask import g, jsonify

from bot.integrations.delighted import responses as ops
from bot.integrations.delighted.people import facts
from bot.integrations.delighted.shapes import person_json, text
from bot.web.context import runtime
from bot.web.delighted.core import body, delighted_api, expand, params, route

# The survey a response created through the API belongs to (npsbot's `survey` parameter
# names another); made when missing, like the import's.
SURVEY = "delighted"


@route("/survey_responses", ["GET"])
@delighted_api
def list_responses() -> Any:
    with runtime().db.session() as s:
        return jsonify(ops.listed(s, params(), expand()))


@route("/survey_responses", ["POST"])
@delighted_api
def create_response() -> Any:
    rt = runtime()
    data = body()
    key = text(data, "survey", 64) or SURVEY
    with rt.db.session_for_update() as s:
        response = ops.create(s, data, key, g.actor, rt.clock())
        return jsonify(ops.response_json(response)), 201


def _one(response_id: str, change: dict[str, Any] | None = None) -> Any:
    rt = runtime()
    opener = rt.db.session_for_update if change is not None else rt.db.session
    with opener() as s:
        response = ops.find(s, response_id)
        if change is not None:
            ops.update(s, response, change, at=rt.clock(), actor=g.actor, source=g.source)
            s.flush()
        person, contact = None, response.invitation.contact
        if "person" in expand() and contact is not None:
            person = person_json(contact, facts(s, [contact.id])[contact.id])
        return jsonify(ops.response_json(response, person))


@route("/survey_responses/<response_id>", ["GET"])
@delighted_api
def get_response(response_id: str) -> Any:
    return _one(response_id)


@route("/survey_responses/<response_id>", ["PUT"])
@delighted_api
def update_response(response_id: str) -> Any:
    return _one(response_id, body())


@route("/metrics", ["GET"])
@delighted_api
def metrics() -> Any:
    with runtime().db.session() as s:
        return jsonify(ops.metrics(s, params()))

"""The reporting API (`/api/v1/nps`, `/nps/trend`, `/nps/breakdown`, `/responses`, `/themes`,
`/reports/followup`) and the OpenAPI description of the whole API (`/api/v1/openapi.json`).

Thin: query arguments → `filters.Filters` → a query function → JSON. Same API keys as the
business API. A bad argument answers 422 `{"error": "invalid", "field": <param>, "reason": …}`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache, partial
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy.orm import Session

from bot.insights import filters, followup, lists, reports
from bot.staff import cases
from bot.web.auth import api_error, api_session, read_with_api_key
from bot.web.context import runtime

bp = Blueprint("reports", __name__, url_prefix="/api/v1")
OPENAPI = Path(__file__).resolve().parent / "openapi.json"


def _args() -> dict[str, list[str]]:
    return request.args.to_dict(flat=False)


def _run(allow: tuple[str, ...], fn: Callable[[Session, filters.Filters], Any]) -> Any:
    try:
        f = filters.parse_filters(_args(), allow=allow)
        return jsonify(fn(api_session(), f))
    except filters.FilterError as exc:
        return api_error(422, "invalid", exc.reason, field=exc.param)


@bp.get("/nps")
@read_with_api_key
def nps() -> Any:
    return _run((), reports.nps_report)


@bp.get("/nps/trend")
@read_with_api_key
def nps_trend() -> Any:
    try:
        interval = filters.parse_interval(_args())
    except filters.FilterError as exc:
        return api_error(422, "invalid", exc.reason, field=exc.param)
    return _run((), lambda s, f: reports.trend(s, f, interval))


@bp.get("/nps/breakdown")
@read_with_api_key
def nps_breakdown() -> Any:
    by = request.args.get("by", "")
    if not by:
        return api_error(
            422,
            "invalid",
            "say what to group by: channel, survey, kind, language, a metadata key or "
            "attribute.<key>",
            field="by",
        )
    return _run(
        (), lambda s, f: {"by": by, "groups": reports.breakdown(s, f, by), "filters": f.to_dict()}
    )


@bp.get("/responses")
@read_with_api_key
def responses() -> Any:
    args = _args()
    try:
        limit = filters.parse_limit(args)
    except filters.FilterError as exc:
        return api_error(422, "invalid", exc.reason, field=exc.param)
    cursor = request.args.get("cursor") or None

    def page(s: Session, f: filters.Filters) -> dict[str, Any]:
        p = lists.responses(s, f, limit=limit, cursor=cursor)
        return {"items": p.items, "next_cursor": p.next_cursor, "filters": f.to_dict()}

    return _run((), page)


@bp.get("/themes")
@read_with_api_key
def themes() -> Any:
    try:
        limit = filters.parse_limit(_args(), default=50)
    except filters.FilterError as exc:
        return api_error(422, "invalid", exc.reason, field=exc.param)
    return _run((), lambda s, f: reports.themes(s, f, limit=limit))


@bp.get("/reports/followup")
@read_with_api_key
def followup_report() -> Any:
    try:
        limit = filters.parse_limit(_args(), default=50)
    except filters.FilterError as exc:
        return api_error(422, "invalid", exc.reason, field=exc.param)
    store_key = request.args.get("by_meta") or followup.DEFAULT_STORE_KEY
    rt = runtime()
    now = rt.clock()
    return _run(
        ("by_meta",),
        lambda s, f: followup.report(
            s, f, now, rt.settings, store_key, limit, partial(cases.late, rt.settings, now)
        ),
    )


@cache
def openapi_text() -> str:
    return OPENAPI.read_text()


def openapi_document() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(openapi_text())
    return doc


@bp.get("/openapi.json")
def openapi() -> Any:
    return Response(openapi_text(), mimetype="application/json")

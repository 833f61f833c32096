from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from bot.web.context import db_ok, runtime

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Any:
    rt = runtime()
    ok = db_ok(rt)
    body = {"status": "ok" if ok else "degraded", "database": ok, "channels": sorted(rt.channels)}
    return jsonify(body), 200 if ok else 503

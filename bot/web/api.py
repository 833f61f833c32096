"""The business API, /api/v1: purchases, contacts and touchpoints in, invitations out; errors
are JSON naming the field."""

from __future__ import annotations

from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from sqlalchemy import select

from bot.inbound.spool import after_erasure
from bot.privacy.erasure import addresses_of, erase_contact, erased_json
from bot.storage.db import MAX_ID, refused_text
from bot.storage.models import Contact, Invitation
from bot.survey import touchpoints as tps
from bot.survey.customers import Taken, contact_json, parse_customer, upsert_contact
from bot.survey.fields import Invalid, moment
from bot.survey.purchases import (
    MAX_ORDER_ID,
    Conflict,
    Outcome,
    deep_link,
    mark_delivered,
    parse_purchase,
    register_purchase,
)
from bot.survey.weblink import survey_url
from bot.web import qr
from bot.web.auth import api_error, require_api_key
from bot.web.context import runtime

bp = Blueprint("api", __name__, url_prefix="/api/v1")
MAX_CONTACT_ID = 128  # contacts.external_id is VARCHAR(128)


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


# The customer said no (a rule, or their STOP): no page to offer them.
NO_PAGE = ("skipped", "opted_out")


def invitation_json(inv: Invitation, link: str | None = None) -> dict[str, Any]:
    r = inv.response
    rt = runtime()
    return {
        "invitation_id": inv.id,
        "order_id": inv.order_id,
        "survey": inv.survey.key,
        "status": inv.state,
        "reason": inv.skip_reason
        or (inv.last_error if inv.state in ("failed", "unknown") else None),
        "due_at": _iso(inv.due_at),
        "sent_at": _iso(inv.sent_at),
        "channel": inv.channel,
        "telegram_link": link,
        # The web survey page, always (the business may put it in its own e-mail): the last
        # resort of every invitation. Absolute from PUBLIC_BASE_URL, else this request's root.
        "survey_url": None if inv.state in NO_PAGE else survey_url(rt, inv.id, request.url_root),
        "response": None
        if r is None
        else {"score": r.score, "category": r.category, "comment": r.comment, "themes": r.themes},
    }


def _outcome_json(o: Outcome) -> dict[str, Any]:
    body = invitation_json(o.invitation, o.telegram_link)
    keep = ("invitation_id", "status", "reason", "due_at", "channel", "telegram_link", "survey_url")
    box = o.sandbox_address
    return {k: body[k] for k in keep} | {"sandbox_url": box and f"/sandbox?address={box}"}


@bp.post("/purchases")
@require_api_key
def purchases() -> Any:
    rt = runtime()
    data = request.get_json(silent=True)
    if data is None:
        return api_error(
            400, "bad_request", "the body must be JSON (Content-Type: application/json)"
        )
    try:
        purchase = parse_purchase(data, country=rt.settings.default_country)
        outcome = register_purchase(rt, purchase)
    except Invalid as exc:
        return api_error(422, "invalid", exc.reason, exc.field)
    except Conflict as exc:
        return api_error(409, "conflict", str(exc), "order_id")
    with rt.db.session() as s:
        s.add(outcome.invitation)
        body = _outcome_json(outcome)
    return jsonify(body), 201 if outcome.created else 200


@bp.post("/purchases/<order_id>/delivered")
@require_api_key
def delivered(order_id: str) -> Any:
    """The order reached the customer: the survey's delay counts from the delivery."""
    rt = runtime()
    data = request.get_json(silent=True) or {}
    raw = data.get("delivered_at") if isinstance(data, dict) else None
    try:
        when = moment(raw, "delivered_at") if raw else rt.clock()
    except Invalid as exc:
        return api_error(422, "invalid", exc.reason, exc.field)
    try:
        if refused_text(order_id) is not None or len(order_id) > MAX_ORDER_ID:
            raise LookupError(order_id)  # no order can have such an id
        inv = mark_delivered(rt, order_id, when)
    except LookupError:
        return api_error(404, "not_found", f"no purchase with order_id {order_id!r}")
    with rt.db.session() as s:
        s.add(inv)
        return jsonify(invitation_json(inv))


@bp.get("/invitations/<int:invitation_id>")
@require_api_key
def invitation(invitation_id: int) -> Any:
    rt = runtime()
    with rt.db.session() as s:
        inv = s.get(Invitation, invitation_id) if invitation_id <= MAX_ID else None
        if inv is None:
            return api_error(404, "not_found", f"no invitation {invitation_id}")
        body = invitation_json(inv)
    body["telegram_link"] = deep_link(rt, inv)  # it may ask the provider: after the transaction
    return jsonify(body)


@bp.put("/contacts/<contact_id>")
@require_api_key
def put_contact(contact_id: str) -> Any:
    """Create or update a contact known by the business's id: given fields are set, omitted
    ones kept; attributes merge key by key (null removes one); consent is added to its history."""
    rt = runtime()
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return api_error(400, "bad_request", "the body must be a JSON object")
    if "id" in data and data["id"] != contact_id:
        return api_error(422, "invalid", "must be the id in the URL (or left out)", "id")
    if (refused := refused_text(contact_id)) is not None or len(contact_id) > MAX_CONTACT_ID:
        return api_error(422, "invalid", refused or "at most 128 characters", "id")
    try:
        customer = parse_customer(
            {**data, "id": contact_id}, "", country=rt.settings.default_country, strict=True
        )
        if customer.sandbox is not None:
            raise Invalid("sandbox", "is given with a purchase (the sandbox page makes one)")
        with rt.db.session_for_update() as s:
            contact, created = upsert_contact(
                s, customer, rt.clock(), rt.settings.default_language, "api", "", by_id_only=True
            )
            body = contact_json(s, contact)
    except Taken as exc:
        return api_error(409, "conflict", exc.reason, exc.field)
    except Invalid as exc:
        return api_error(422, "invalid", exc.reason, exc.field)
    return jsonify(body), 201 if created else 200


@bp.get("/contacts/<contact_id>")
@require_api_key
def get_contact(contact_id: str) -> Any:
    with runtime().db.session() as s:
        contact = None
        if refused_text(contact_id) is None and len(contact_id) <= MAX_CONTACT_ID:
            contact = s.scalar(select(Contact).where(Contact.external_id == contact_id))
        if contact is None:
            return api_error(404, "not_found", f"no contact {contact_id[:128]!r}")
        return jsonify(contact_json(s, contact))


@bp.delete("/contacts/<contact_id>")
@require_api_key
def delete_contact(contact_id: str) -> Any:
    """Erase the customer (issue 20, docs/privacy.md): the person goes, the anonymous score
    stays; 404 for an unknown id, and so for a second call."""
    rt = runtime()
    with rt.db.session_for_update() as s:
        found = None
        if refused_text(contact_id) is None and len(contact_id) <= MAX_CONTACT_ID:
            found = s.scalar(select(Contact.id).where(Contact.external_id == contact_id))
        if found is None:
            return api_error(404, "not_found", f"no contact {contact_id[:128]!r}")
        addresses = addresses_of(s, found)
        done = erase_contact(
            s, found, at=rt.clock(), actor=f"api:{g.api_key}", source=request.remote_addr
        )
    after_erasure(rt, addresses)
    return jsonify({"id": contact_id, **erased_json(done)})


@bp.post("/touchpoints")
@require_api_key
def post_touchpoint() -> Any:
    """Create a touchpoint; the same body again answers 200, another body for its key 409."""
    rt = runtime()
    data = request.get_json(silent=True)
    if data is None:
        return api_error(
            400, "bad_request", "the body must be JSON (Content-Type: application/json)"
        )
    try:
        tp, created = tps.save(rt, tps.parse_touchpoint(data))
    except Invalid as exc:
        return api_error(422, "invalid", exc.reason, exc.field)
    except tps.Conflict as exc:
        return api_error(409, "conflict", str(exc), "key")
    return _touchpoint(tp.key, 201 if created else 200)


@bp.get("/touchpoints")
@require_api_key
def get_touchpoints() -> Any:
    rt = runtime()
    with rt.db.session() as s:
        items = list(tps.listed(s))
        bodies = [tps.touchpoint_json(tp, None) for tp in items]
    return jsonify({"touchpoints": bodies})


def _touchpoint(key: str, status: int = 200) -> Any:
    rt = runtime()
    with rt.db.session() as s:
        tp = tps.find(s, key) if tps.KEY.fullmatch(key) else None
        if tp is None:
            return api_error(404, "not_found", f"no touchpoint {key[:64]!r}")
        body = tps.touchpoint_json(tp, None)
        s.expunge(tp)  # read after the session: the links may ask the provider
    body["links"] = tps.links(rt, tp)
    return jsonify(body), status


@bp.get("/touchpoints/<key>")
@require_api_key
def get_touchpoint(key: str) -> Any:
    return _touchpoint(key)


@bp.post("/touchpoints/<key>/rotate")
@require_api_key
def rotate_touchpoint(key: str) -> Any:
    """A new code: the old one answers "no longer valid"; a disabled touchpoint is enabled."""
    if tps.KEY.fullmatch(key):
        with suppress(LookupError):  # answered 404 below
            tps.rotate(runtime(), key)
    return _touchpoint(key)


@bp.post("/touchpoints/<key>/disable")
@require_api_key
def disable_touchpoint(key: str) -> Any:
    if tps.KEY.fullmatch(key):
        with suppress(LookupError):  # answered 404 below
            tps.disable(runtime(), key)
    return _touchpoint(key)


@bp.get("/touchpoints/<key>/qr.svg")
@require_api_key
def touchpoint_qr_svg(key: str) -> Any:
    return _qr(key, "svg")


@bp.get("/touchpoints/<key>/qr.png")
@require_api_key
def touchpoint_qr_png(key: str) -> Any:
    return _qr(key, "png")


def _qr(key: str, kind: str) -> Any:
    """One link's QR code, SVG or PNG (`?link=whatsapp|telegram|sms|web`)."""
    rt = runtime()
    which = request.args.get("link", "whatsapp")
    if which not in tps.LINKS:
        return api_error(422, "invalid", f"must be one of {', '.join(tps.LINKS)}", "link")
    with rt.db.session() as s:
        tp = tps.find(s, key) if tps.KEY.fullmatch(key) else None
        if tp is None:
            return api_error(404, "not_found", f"no touchpoint {key[:64]!r}")
        s.expunge(tp)
    link = tps.links(rt, tp)[which]
    if "url" not in link:
        return api_error(409, "unavailable", link["reason"], "link")
    if kind == "svg":
        return Response(qr.svg(link["url"], title=tp.key), mimetype="image/svg+xml")
    return Response(qr.png(link["url"]), mimetype="image/png")

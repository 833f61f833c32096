"""`/s/<token>`: the web survey page — 0 to 10, the why, thanks — in the customer's language.

Server-rendered, no CDN, a few lines of inline CSS and JS, and it works without JS (the 11
scores are submit buttons). The token in the URL is the only credential, so a form posted from
elsewhere cannot answer (no cookie, no session: nothing for CSRF to ride). Each post redirects
to the page (303), which shows the invitation's step from the database: a reload or a second
submit changes nothing. An unknown token is a 404 page, a closed survey a 410 page.
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, g, redirect, render_template, request, url_for

from bot.config import LANGUAGES
from bot.inbound.page import Step, View, answer_score, answer_why, view
from bot.survey import touchpoints
from bot.survey.weblink import open_web_invitation, read_token, token
from bot.texts import texts_for
from bot.web.context import runtime

bp = Blueprint("survey_page", __name__)
WHY_MAX = 2000  # characters a why may have (the form says so too)


def _page(template_vars: dict[str, Any], status: int, lang: str) -> Any:
    g.lang = lang  # the page's own `_` texts follow the customer's language
    nonce = secrets.token_urlsafe(12)
    body = render_template(
        "survey_page.html", lang=lang, nonce=nonce, business=_business(), **template_vars
    )
    headers = {
        "Content-Language": lang,
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",  # the token never leaves in a Referer
        "X-Robots-Tag": "noindex",
        "Content-Security-Policy": (
            "default-src 'none'; style-src 'unsafe-inline'; "
            f"script-src 'nonce-{nonce}'; form-action 'self'; frame-ancestors 'none'"
        ),
    }
    return body, status, headers


def _business() -> str:
    return runtime().settings.business_name


def _unknown() -> Any:
    lang = request.accept_languages.best_match(LANGUAGES) or runtime().settings.default_language
    return _page({"step": "unknown"}, 404, lang)


def _show(v: View, error: bool = False) -> Any:
    status = 410 if v.step is Step.CLOSED else 400 if error else 200
    return _page({"step": v.step.value, "v": v, "error": error}, status, v.texts.language)


def _invitation(token: str) -> View | None:
    inv_id = read_token(runtime().settings.secret_key, token)
    return view(runtime(), inv_id) if inv_id is not None else None


@bp.get("/s/<token>")
def page(token: str) -> Any:
    v = _invitation(token)
    return _unknown() if v is None else _show(v)


@bp.post("/s/<token>")
def submit(token: str) -> Any:
    v = _invitation(token)
    if v is None:
        return _unknown()
    rt = runtime()
    if v.step is Step.CLOSED:
        return _show(v)
    if v.step is Step.SCORE:
        raw = request.form.get("score", "")
        if not (raw.isdigit() and 0 <= int(raw) <= 10):
            return _show(v, error=True)
        answer_score(rt, v.invitation_id, int(raw))
    elif v.step is Step.WHY:
        why = "" if request.form.get("skip") else request.form.get("why", "")
        answer_why(rt, v.invitation_id, why.strip()[:WHY_MAX])
    return redirect(url_for("survey_page.page", token=token), code=303)


# A touchpoint's web link (`/s/t/<code>`): the question first; a tap on a score makes the survey
# (an anonymous contact, the touchpoint's metadata), so a link preview or a scan that goes no
# further writes nothing. Then it is the invitation's own page.


def _touchpoint(code: str) -> tuple[str, str, dict[str, Any], View] | None:
    """The live survey behind a code: its key, the metadata, and the page's first view."""
    rt = runtime()
    lang = request.accept_languages.best_match(LANGUAGES) or rt.settings.default_language
    with rt.db.session() as s:
        tp = touchpoints.by_code(s, code.upper())
        if tp is None:
            return None
        texts = texts_for(
            lang, tp.survey.texts, default=rt.settings.default_language, business=_business()
        )
        step = Step.SCORE if tp.enabled else Step.CLOSED
        return tp.survey.key, lang, touchpoints.metadata(tp), View(0, step, texts)


@bp.get("/s/t/<code>")
def touchpoint_page(code: str) -> Any:
    found = _touchpoint(code)
    return _unknown() if found is None else _show(found[3])


@bp.post("/s/t/<code>")
def touchpoint_start(code: str) -> Any:
    found = _touchpoint(code)
    if found is None:
        return _unknown()
    survey, lang, meta, first = found
    raw = request.form.get("score", "")
    if first.step is not Step.SCORE or not (raw.isdigit() and 0 <= int(raw) <= 10):
        return _show(first, error=first.step is Step.SCORE)
    rt = runtime()
    inv_id = open_web_invitation(rt, survey, meta, rt.clock(), lang)
    answer_score(rt, inv_id, int(raw))
    return redirect(url_for("survey_page.page", token=token(rt.settings.secret_key, inv_id)), 303)

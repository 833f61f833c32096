"""`/dashboard/touchpoints` (owners): the touchpoints, made, rotated and disabled here as by the
API and `npsbot touchpoints` (the same `bot.survey.touchpoints` functions), and each one's
printable A5 card: the business's name, the survey's question, a QR code and its code.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, request, url_for
from markupsafe import Markup
from sqlalchemy import select

from bot.config import LANGUAGES
from bot.storage.models import StaffRole, Survey
from bot.survey import touchpoints as tps
from bot.survey.fields import Invalid
from bot.texts import texts_for
from bot.web import qr
from bot.web.context import runtime
from bot.web.dashboard.core import bp, by, check_csrf, page, roles_required
from bot.web.dashboard.i18n import N_, _

FIELDS = {
    "key": N_("The key takes 1 to 64 lower-case letters, digits, '.', '_' or '-'."),
    "survey": N_("Choose one of the surveys."),
    "metadata": N_("Write the metadata as key=value, one per line."),
    "window_hours": N_("The hours take a whole number from 0 to 8760."),
}
LABELS = {"whatsapp": "WhatsApp", "telegram": "Telegram", "sms": "SMS", "web": N_("Web page")}


def _metadata(raw: str) -> dict[str, str]:
    pairs = [line.partition("=") for line in raw.splitlines() if line.strip()]
    if any(not eq or not k.strip() for k, eq, _v in pairs):
        raise Invalid("metadata", "must be key=value lines")
    return {k.strip(): v.strip() for k, _eq, v in pairs}


def _list(status: int = 200, **context: Any) -> Any:
    with runtime().db.session() as s:
        items = [tps.touchpoint_json(tp, None) for tp in tps.listed(s)]
        surveys = list(s.scalars(select(Survey.key).order_by(Survey.key)))
    context.setdefault("form", {})
    return page("dashboard/touchpoints.html", status, items=items, surveys=surveys, **context)


@bp.get("/touchpoints")
@roles_required(StaffRole.OWNER)
def touchpoints() -> Any:
    return _list()


@bp.post("/touchpoints")
@roles_required(StaffRole.OWNER)
def touchpoint_create() -> Any:
    """A new touchpoint from the form; a refusal shows the form again with the field named."""
    check_csrf()
    form = {k: v for k, v in request.form.items() if k != "csrf"}
    try:
        window = form.get("window_hours", "24").strip() or "24"
        if not window.isdigit():
            raise Invalid("window_hours", "must be a whole number")
        body = {
            "key": form.get("key", "").strip(),
            "survey": form.get("survey", ""),
            "metadata": _metadata(form.get("metadata", "")),
            "window_hours": int(window),
        }
        tp, _created = tps.save(runtime(), tps.parse_touchpoint(body), by())
    except Invalid as exc:
        field = exc.field.split(".")[0]
        text = FIELDS.get(field, FIELDS["metadata"])
        return _list(422, error={"field": field, "text": _(text)}, form=form)
    except tps.Conflict:
        text = _("A touchpoint named %(key)s exists already.", key=form.get("key", ""))
        return _list(409, error={"field": "key", "text": text}, form=form)
    flash(_("Touchpoint %(key)s is ready: print its card.", key=tp.key))
    return redirect(url_for("dashboard.touchpoint_card", key=tp.key))


@bp.post("/touchpoints/<key>/<any(rotate, disable):action>")
@roles_required(StaffRole.OWNER)
def touchpoint_change(key: str, action: str) -> Any:
    check_csrf()
    if not tps.KEY.fullmatch(key):
        abort(404)
    try:
        tp = (tps.rotate if action == "rotate" else tps.disable)(runtime(), key, by())
    except LookupError:
        abort(404)
    if action == "rotate":
        flash(_("%(key)s has a new code, %(code)s: print its card again.", key=key, code=tp.code))
    else:
        flash(_("%(key)s is disabled: its code no longer starts the survey.", key=key))
    return redirect(url_for("dashboard.touchpoints"))


@bp.get("/touchpoints/<key>/card")
@roles_required(StaffRole.OWNER)
def touchpoint_card(key: str) -> Any:
    """The A5 card: one QR code (the link chosen, or the first the channels allow)."""
    rt = runtime()
    with rt.db.session() as s:
        tp = tps.find(s, key) if tps.KEY.fullmatch(key) else None
        if tp is None:
            abort(404)
        texts, languages = tp.survey.texts or {}, [rt.settings.default_language]
        languages += [lang for lang in LANGUAGES if lang in texts and lang not in languages]
        s.expunge(tp)
    links = {name: link["url"] for name, link in tps.links(rt, tp).items() if "url" in link}
    which = request.args.get("link") or next(iter(links), "")
    lines = []
    for lang in languages:
        said = texts_for(lang, texts, default=lang, business=rt.settings.business_name)
        lines.append({"lang": lang, "question": said("question"), "scan": said("scan_card")})
    return page(
        "dashboard/touchpoint_card.html",
        tp=tp,
        business=rt.settings.business_name,
        lines=lines,
        links={name: _(LABELS[name]) for name in links},
        which=which if which in links else "",
        svg=Markup(qr.svg(links[which], title=tp.code)) if which in links else None,
    )

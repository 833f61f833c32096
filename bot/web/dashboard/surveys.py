"""`/dashboard/surveys`: every role reads the surveys; owners edit them and create new ones.

The form posts the fields a surveys file has (`texts.pt.question`, `quiet_hours`…); `values`
turns it into the file's shape and `bot.survey.surveys.save_survey` validates it with the file's
own check (`bot.definitions.check_survey`): a refused value is shown beside its field, with the
reason `npsbot surveys import` gives. Alert routes and promoter texts are kept as they are
(edited through export/import: routes carry notification URLs).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import abort, redirect, request, url_for
from werkzeug.datastructures import MultiDict

from bot.config import LANGUAGES
from bot.definitions import (
    AUDIENCE_DAYS,
    CATEGORIES,
    DEFAULT,
    KINDS,
    PROGRAM_NUMBERS,
    Reason,
    SurveyDef,
    SurveyInvalid,
    placeholders,
    survey_table,
)
from bot.storage.models import StaffRole
from bot.survey.surveys import definition, save_survey, survey_rows
from bot.texts import MESSAGES, catalog
from bot.web.context import runtime
from bot.web.dashboard.core import bp, by, check_csrf, login_required, page, roles_required
from bot.web.dashboard.i18n import N_, _
from channels import registry
from channels.sms_segments import GSM_BASIC, GSM_EXTENDED
from scoring import DEFAULT_TAXONOMY

# Each refusal of `bot.definitions.REASONS`, marked for translation (a unit test keeps them equal).
REASONS = {
    "required": N_("required"),
    "unknown_field": N_("unknown field"),
    "key": N_("1 to 64 letters, digits, - or _ (starting with a letter or digit)"),
    "exists": N_("a survey with this key already exists"),
    "name": N_("a name of 1 to 200 characters"),
    "whole": N_("a whole number from %(min)s to %(max)s"),
    "reminder": N_("must come before the survey expires"),
    "channel": N_("unknown channel %(value)s"),
    "channel_twice": N_("channel %(value)s is listed twice"),
    "no_channel": N_("at least one channel"),
    "position": N_("two channels have the same position"),
    "list": N_("a list of values"),
    "table": N_("a table of values"),
    "language": N_("unknown language %(value)s (es, en or pt)"),
    "text_key": N_("unknown text %(value)s"),
    "text": N_("text of 1 to %(max)s characters"),
    "placeholder": N_("unknown placeholder {%(value)s}; allowed: %(allowed)s"),
    "braces": N_("a { or } without its pair (write {{ or }} for the sign itself)"),
    "quiet": N_("two times of day, HH:MM (e.g. 21:00 and 09:00)"),
    "sid": N_("a Content SID: HX and 32 hexadecimal digits"),
    "variables": N_("numbered template variables with text values, e.g. 2 = Tienda Ejemplo"),
    "category": N_("unknown category %(value)s (detractor, passive or promoter)"),
    "theme": N_("unknown theme %(value)s"),
    "url": N_("an http:// or https:// address"),
    "route": N_("each route needs a match table, and a telegram_chat_id or notify_urls"),
    "kind": N_("transactional or relational"),
    "optin": N_("optional or required"),
    "relational_only": N_("only for a relational survey (kind = relational)"),
    "audience": N_(
        "attributes (a table of values or lists of values), "
        "last_purchase_within_days and last_purchase_older_than_days (whole days)"
    ),
}
KIND_LABELS = {
    "transactional": N_("Transactional: after a purchase"),
    "relational": N_("Relational: the whole base, continuously"),
}
# What each customer text is for (labels; the keys are the catalog's and the file's).
TEXTS = {
    "question": N_("The question (0 to 10)"),
    "reask": N_("Asking again: no score understood"),
    "reask_media": N_("Asking again after a photo or voice note"),
    "give_up": N_("Giving up after asking again"),
    "why_detractor": N_("Why? (to a detractor, 0–6)"),
    "why_passive": N_("Why? (to a passive, 7–8)"),
    "why_promoter": N_("Why? (to a promoter, 9–10)"),
    "thanks_detractor": N_("Thanks (detractor)"),
    "thanks_passive": N_("Thanks (passive)"),
    "thanks_promoter": N_("Thanks (promoter)"),
    "stopped": N_("Unsubscribed (STOP)"),
    "started": N_("Subscribed again (START)"),
    "help": N_("Help (HELP), during a survey"),
    "help_no_survey": N_("Help (HELP), with no survey open"),
    "no_survey": N_("A message with no survey open"),
    "late": N_("An answer after the survey closed"),
    "added": N_("A message added to the comment"),
    "stale_button": N_("A tap on an old survey's button"),
    "score_chosen": N_("The score tapped, shown on the question"),
}
NUMBERS = ("delay_minutes", "resurvey_days", "reminder_hours", "expiry_hours")
PROGRAM = tuple(PROGRAM_NUMBERS)  # cadence_days, daily_cap

# The invitation template, and the follow-up one a staff reply uses outside the 24 h window.
TEMPLATES = ("whatsapp_templates", "staff_templates")


def reason(r: Reason) -> str:
    return _(REASONS[r.code], **r.params)


def _number(text: str) -> int | str:
    text = text.strip()
    return int(text) if text.lstrip("-").isdigit() else text


def _variables(text: str) -> dict[str, str] | str:
    """`2 = Tienda Ejemplo`, one a line; the text itself (refused) when a line is not that."""
    out = {}
    for line in text.splitlines():
        if line.strip():
            name, sep, value = line.partition("=")
            if not sep:
                return text
            out[name.strip()] = value.strip()
    return out


def _attributes(text: str) -> dict[str, Any] | str:
    """`segment = gold, silver`, one attribute a line; the text itself (refused) otherwise."""
    out: dict[str, Any] = {}
    for line in text.splitlines():
        if line.strip():
            name, sep, value = line.partition("=")
            items = [v.strip() for v in value.split(",") if v.strip()]
            if not sep or not name.strip() or not items:
                return text
            out[name.strip()] = items if len(items) > 1 else items[0]
    return out


def _program(get: Any) -> dict[str, Any]:
    """A relational survey's fields, as the file spells them (only those filled in)."""
    out: dict[str, Any] = {}
    kind = get("kind").strip()
    if kind:
        out["kind"] = kind
    for name in PROGRAM:
        if (v := get(name).strip()) != "":
            out[name] = _number(v)
    audience: dict[str, Any] = {}
    if (attrs := _attributes(get("audience.attributes"))) != {}:
        audience["attributes"] = attrs
    for name in AUDIENCE_DAYS:
        if (v := get(f"audience.{name}").strip()) != "":
            audience[name] = _number(v)
    return out | ({"audience": audience} if audience else {})


def values(form: MultiDict[str, str], current: Mapping[str, Any]) -> dict[str, Any]:
    """The posted form in the surveys file's shape. `current`: the stored survey's table, whose
    options the form does not show (routes, promoter texts) are kept as they are."""

    def get(name: str) -> str:
        return form.get(name, "").replace("\r\n", "\n")  # browsers post CRLF line ends

    out: dict[str, Any] = {"name": get("name").strip()}
    for name in NUMBERS:
        out[name] = _number(get(name))
    if out["reminder_hours"] == "":
        out["reminder_hours"] = 0  # no reminder
    placed = sorted(
        (int(pos), i, ch)
        for i, ch in enumerate(registry.FACTORIES)
        if (pos := get(f"channels.{ch}")).isdigit()
    )
    out["channels"] = [ch for _pos, _i, ch in placed]
    texts = {
        lang: {k: v for k in MESSAGES if (v := get(f"texts.{lang}.{k}")).strip()}
        for lang in LANGUAGES
    }
    if any(texts.values()):
        out["texts"] = {lang: items for lang, items in texts.items() if items}
    start, end = get("quiet_hours.start").strip(), get("quiet_hours.end").strip()
    if start or end:
        out["quiet_hours"] = [start, end]
    optin = get("whatsapp_optin").strip() or "optional"
    if optin != "optional" or "whatsapp_optin" in current:
        out["whatsapp_optin"] = optin  # the default is not written to a file that did not say it
    for option in TEMPLATES:
        templates: dict[str, Any] = {}
        for lang in LANGUAGES:
            sid, names = (
                get(f"{option}.{lang}.sid").strip(),
                get(f"{option}.{lang}.variables"),
            )
            if sid or names.strip():
                templates[lang] = {"sid": sid} | (
                    {"variables": _variables(names)} if names.strip() else {}
                )
        if templates:
            out[option] = templates
    for name, default in (("alert_on", ["detractor"]), ("alert_themes", [])):
        chosen = form.getlist(name)
        if name in current or chosen != default:
            out[name] = chosen
    links = {k: v for k in ("default", *LANGUAGES) if (v := get(f"promoter_links.{k}").strip())}
    if links:
        out["promoter_links"] = links
    out |= _program(get)
    if out.get("kind") == "transactional" and "kind" not in current:
        del out["kind"]  # the default, not written to a file that did not say it
    return out | {k: current[k] for k in ("routes", "promoter_texts") if k in current}


def _form_of(d: SurveyDef) -> dict[str, str]:
    """A stored survey as the form's fields."""
    f: dict[str, str] = {"name": d.name}
    for name in NUMBERS:
        f[name] = str(getattr(d, name) or 0)
    for i, ch in enumerate(d.channels, start=1):
        f[f"channels.{ch}"] = str(i)
    for lang, items in d.texts.items():
        for k, v in items.items():
            f[f"texts.{lang}.{k}"] = v
    quiet = d.options.get("quiet_hours")
    if quiet:
        f["quiet_hours.start"], f["quiet_hours.end"] = quiet
    f["whatsapp_optin"] = d.options.get("whatsapp_optin", "optional")
    for option in TEMPLATES:
        for lang, tpl in d.options.get(option, {}).items():
            f[f"{option}.{lang}.sid"] = tpl.get("sid", "")
            variables = tpl.get("variables", {})
            f[f"{option}.{lang}.variables"] = "\n".join(f"{k} = {v}" for k, v in variables.items())
    for k, v in d.options.get("promoter_links", {}).items():
        f[f"promoter_links.{k}"] = v
    f["kind"] = d.options.get("kind", "transactional")
    for name in PROGRAM:
        f[name] = str(d.options.get(name, ""))
    audience = d.options.get("audience", {})
    for name in AUDIENCE_DAYS:
        f[f"audience.{name}"] = str(audience.get(name, ""))
    f["audience.attributes"] = "\n".join(
        f"{k} = {', '.join(map(str, v)) if isinstance(v, list) else v}"
        for k, v in audience.get("attributes", {}).items()
    )
    return f


def _page(
    d: SurveyDef | None,
    key: str,
    f: Mapping[str, str],
    chosen: Mapping[str, list[str]],
    errors: Mapping[str, str],
    status: int = 200,
) -> Any:
    defaults = {
        lang: {k: catalog(lang).gettext(MESSAGES[k]) for k in MESSAGES} for lang in LANGUAGES
    }
    return page(
        "dashboard/survey.html",
        status,
        key=key,
        survey=d,
        f=f,
        chosen=chosen,
        errors=errors,
        error_langs={k.split(".")[1] for k in errors if k.startswith("texts.")},
        channels=list(registry.FACTORIES),
        languages=list(LANGUAGES),
        text_keys=list(MESSAGES),
        text_labels=TEXTS,
        placeholders={k: ", ".join(f"{{{p}}}" for p in sorted(placeholders(k))) for k in MESSAGES},
        defaults=defaults,
        categories=CATEGORIES,
        kinds=[(k, _(KIND_LABELS[k])) for k in KINDS],
        themes=DEFAULT_TAXONOMY.keys,
        routes=len(d.options.get("routes", [])) if d else 0,
        gsm="".join(sorted(GSM_BASIC)),
        gsm_extended="".join(sorted(GSM_EXTENDED)),
    )


def _stored(key: str) -> SurveyDef:
    with runtime().db.session() as s:
        for row in survey_rows(s):
            if row.key == key:
                return definition(row)
    abort(404, description=_("No survey %(key)s.", key=key))


@bp.get("/surveys")
@login_required
def surveys(errors: Mapping[str, str] | None = None, status: int = 200) -> Any:
    with runtime().db.session() as s:
        rows = [(definition(r), r.updated_at, r.updated_by) for r in survey_rows(s)]
    return page("dashboard/surveys.html", status, rows=rows, errors=errors or {}, form=request.form)


@bp.post("/surveys")
@roles_required(StaffRole.OWNER)
def survey_create() -> Any:
    """A new survey: its key and name; the rest starts at the defaults, edited on its page."""
    check_csrf()
    key, name = request.form.get("key", "").strip(), request.form.get("name", "").strip()
    table = survey_table(DEFAULT) | {"name": name}
    table.pop("key")
    try:
        with runtime().db.session_for_update() as s:
            who = by()
            save_survey(s, key, table, who.actor, runtime().clock(), new=True, source=who.source)
    except SurveyInvalid as exc:
        errors = {k: reason(r) for k, r in exc.errors.items() if k in ("key", "name")}
        return surveys(errors or {"key": reason(Reason("key"))}, 422)
    return redirect(url_for("dashboard.survey", key=key))


@bp.get("/surveys/<key>")
@login_required
def survey(key: str) -> Any:
    d = _stored(key)
    chosen = {
        "alert_on": list(d.options.get("alert_on", ["detractor"])),
        "alert_themes": list(d.options.get("alert_themes", [])),
    }
    return _page(d, key, _form_of(d), chosen, {})


@bp.post("/surveys/<key>")
@roles_required(StaffRole.OWNER)
def survey_save(key: str) -> Any:
    check_csrf()
    d = _stored(key)
    form = request.form
    posted = values(form, survey_table(d))
    if len({form.get(f"channels.{c}") for c in registry.FACTORIES} - {"", None}) < len(
        posted["channels"]
    ):
        errors = {"channels": reason(Reason("position"))}
    else:
        errors = {}
    if not errors:
        try:
            with runtime().db.session_for_update() as s:
                who = by()
                save_survey(s, key, posted, who.actor, runtime().clock(), source=who.source)
            return redirect(url_for("dashboard.survey", key=key, saved=1))
        except SurveyInvalid as exc:
            errors = {k: reason(r) for k, r in exc.errors.items()}
    chosen = {k: form.getlist(k) for k in ("alert_on", "alert_themes")}
    return _page(d, key, {k: form.get(k, "") for k in form}, chosen, errors, 422)

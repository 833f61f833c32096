"""Survey definitions (touchpoints) and their one validation.

Surveys live in the database. An owner edits them in the dashboard; `npsbot surveys export FILE`
/ `import FILE` keep them in version control as TOML; SURVEYS_FILE only seeds a database that has
none. All three read a survey through `check_survey`, so a value is refused everywhere with the
same reason and the field named (`SurveyInvalid.errors`: field path → `Reason`).

[[survey]]
key = "post-purchase"
name = "After a purchase"
delay_minutes = 120
channels = ["whatsapp", "sms", "telegram"]
quiet_hours = ["21:00", "09:00"]
[survey.texts.es]
question = "¿Qué tan probable es que nos recomiendes? Responde del 0 al 10."
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from string import Formatter
from typing import Any

from bot.config import LANGUAGES
from bot.texts import MESSAGES
from channels import registry
from scoring import DEFAULT_TAXONOMY

DEFAULT_CHANNELS = ("whatsapp", "sms", "telegram", "sandbox")
DEFAULT_QUIET = (time(21, 0), time(9, 0))
CATEGORIES = ("detractor", "passive", "promoter")
MAX_TEXT = 1600  # Twilio's limit for one message body (SMS and WhatsApp)
KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
SID = re.compile(r"HX[0-9a-fA-F]{32}")

# Why a value is refused: English text with %(name)s parameters (the dashboard shows each
# translated: `bot.web.dashboard.surveys.REASONS` has the same keys).
REASONS: dict[str, str] = {
    "required": "required",
    "unknown_field": "unknown field",
    "key": "1 to 64 letters, digits, - or _ (starting with a letter or digit)",
    "exists": "a survey with this key already exists",
    "name": "a name of 1 to 200 characters",
    "whole": "a whole number from %(min)s to %(max)s",
    "reminder": "must come before the survey expires",
    "channel": "unknown channel %(value)s",
    "channel_twice": "channel %(value)s is listed twice",
    "no_channel": "at least one channel",
    "position": "two channels have the same position",
    "list": "a list of values",
    "table": "a table of values",
    "language": "unknown language %(value)s (es, en or pt)",
    "text_key": "unknown text %(value)s",
    "text": "text of 1 to %(max)s characters",
    "placeholder": "unknown placeholder {%(value)s}; allowed: %(allowed)s",
    "braces": "a { or } without its pair (write {{ or }} for the sign itself)",
    "quiet": "two times of day, HH:MM (e.g. 21:00 and 09:00)",
    "sid": "a Content SID: HX and 32 hexadecimal digits",
    "variables": "numbered template variables with text values, e.g. 2 = Tienda Ejemplo",
    "category": "unknown category %(value)s (detractor, passive or promoter)",
    "theme": "unknown theme %(value)s",
    "url": "an http:// or https:// address",
    "route": "each route needs a match table, and a telegram_chat_id or notify_urls",
    "kind": "transactional or relational",
    "optin": "optional or required",
    "relational_only": "only for a relational survey (kind = relational)",
    "audience": "attributes (a table of values or lists of values), "
    "last_purchase_within_days and last_purchase_older_than_days (whole days)",
}


class SurveyFileError(ValueError):
    pass


@dataclass(frozen=True)
class Reason:
    code: str  # a key of REASONS
    params: Mapping[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        text = REASONS[self.code]
        return text % dict(self.params) if self.params else text


class SurveyInvalid(SurveyFileError):
    """Every refused field of one survey: field path (`texts.pt.question`) → reason."""

    def __init__(self, errors: Mapping[str, Reason]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


@dataclass(frozen=True)
class SurveyDef:
    key: str
    name: str
    delay_minutes: int = 120
    resurvey_days: int = 30
    reminder_hours: int | None = 24  # None: no reminder (0 in a file or the form)
    expiry_hours: int = 72
    channels: tuple[str, ...] = DEFAULT_CHANNELS
    texts: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)


DEFAULT = SurveyDef(key="post-purchase", name="After a purchase")

# Whole-number fields: (least, most); a year of minutes, ten years of days, a year of hours.
NUMBERS = {
    "delay_minutes": (0, 525_600),
    "resurvey_days": (0, 3_650),
    "reminder_hours": (0, 8_760),
    "expiry_hours": (1, 8_760),
}
OPTIONS = (
    "quiet_hours",
    "whatsapp_optin",
    "whatsapp_templates",
    "staff_templates",
    "alert_on",
    "alert_themes",
    "promoter_links",
    "promoter_texts",
    "routes",
    "kind",
    "audience",
    "cadence_days",
    "daily_cap",
)
KINDS = ("transactional", "relational")
# "required": WhatsApp invitations go only to contacts with a recorded opt-in (docs/privacy.md).
OPTIN = ("optional", "required")
# A relational survey's whole-number options: (least, most).
PROGRAM_NUMBERS = {"cadence_days": (1, 3_650), "daily_cap": (1, 1_000_000)}
AUDIENCE_DAYS = ("last_purchase_within_days", "last_purchase_older_than_days")
FIELDS = ("key", "name", *NUMBERS, "channels", "texts", *OPTIONS)


def parse_quiet(value: object) -> tuple[time, time]:
    """["21:00", "09:00"] from a survey's options (None: the default); ValueError if malformed."""
    if value is None:
        return DEFAULT_QUIET
    if not (isinstance(value, list | tuple) and len(value) == 2):
        raise ValueError('quiet_hours must be two "HH:MM" times, e.g. ["21:00", "09:00"]')
    if not all(isinstance(v, str) and re.fullmatch(r"\d\d:\d\d", v) for v in value):
        raise ValueError('quiet_hours must be two "HH:MM" times, e.g. ["21:00", "09:00"]')
    return (time.fromisoformat(value[0]), time.fromisoformat(value[1]))


def placeholders(key: str) -> frozenset[str]:
    """The {names} a text may use: the business name, and the default text's own."""
    return frozenset({"business", *_fields(MESSAGES[key])})


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in Formatter().parse(text) if f}


def _text(value: object, allowed: frozenset[str]) -> Reason | None:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        return Reason("text", {"max": MAX_TEXT})
    try:
        used = _fields(value)
    except ValueError:
        return Reason("braces")
    for name in sorted(used - allowed):
        shown = ", ".join(f"{{{a}}}" for a in sorted(allowed))
        return Reason("placeholder", {"value": name, "allowed": shown})
    return None


def _whole(value: object, low: int, high: int) -> Reason | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
    return None if ok else Reason("whole", {"min": low, "max": high})


def _url(value: object) -> bool:
    return isinstance(value, str) and re.fullmatch(r"https?://\S+", value) is not None


def _per_language(
    raw: object, where: str, err: dict[str, Reason], extra: tuple[str, ...] = ()
) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        err[where] = Reason("table")
        return {}
    out = {}
    for lang, value in raw.items():
        if lang not in (*LANGUAGES, *extra):
            err[f"{where}.{lang}"] = Reason("language", {"value": repr(lang)})
        else:
            out[lang] = value
    return out


def _check_texts(raw: object, err: dict[str, Reason]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for lang, items in _per_language(raw, "texts", err).items():
        if not isinstance(items, Mapping):
            err[f"texts.{lang}"] = Reason("table")
            continue
        for k, v in items.items():
            where = f"texts.{lang}.{k}"
            if k not in MESSAGES:
                err[where] = Reason("text_key", {"value": repr(k)})
            elif (why := _text(v, placeholders(k))) is not None:
                err[where] = why
        out[lang] = dict(items)
    return out


def _check_channels(raw: object, err: dict[str, Reason]) -> tuple[str, ...]:
    if not isinstance(raw, list | tuple):
        err["channels"] = Reason("list")
        return ()
    for i, name in enumerate(raw):
        if name not in registry.FACTORIES:  # a plugin channel is one line there
            err["channels"] = Reason("channel", {"value": repr(name)})
        elif name in raw[:i]:
            err["channels"] = Reason("channel_twice", {"value": repr(name)})
    if not raw:
        err["channels"] = Reason("no_channel")
    return tuple(raw)


def _check_options(raw: Mapping[str, Any], err: dict[str, Reason]) -> None:
    if raw.get("whatsapp_optin", "optional") not in OPTIN:
        err["whatsapp_optin"] = Reason("optin")
    if "quiet_hours" in raw:
        try:
            parse_quiet(raw["quiet_hours"])
        except ValueError:
            err["quiet_hours"] = Reason("quiet")
    # The survey's invitation template, and the follow-up one staff replies use outside the window.
    for option in ("whatsapp_templates", "staff_templates"):
        for lang, tpl in _per_language(raw.get(option, {}), option, err).items():
            where = f"{option}.{lang}"
            if not isinstance(tpl, Mapping) or not SID.fullmatch(str(tpl.get("sid", ""))):
                err[f"{where}.sid"] = Reason("sid")
                continue
            variables = tpl.get("variables", {})
            if not isinstance(variables, Mapping) or not all(
                str(k).isdigit() and isinstance(v, str) for k, v in variables.items()
            ):
                err[f"{where}.variables"] = Reason("variables")
            if set(tpl) - {"sid", "variables"}:
                err[where] = Reason("unknown_field")
    for name, known, code in (
        ("alert_on", CATEGORIES, "category"),
        ("alert_themes", DEFAULT_TAXONOMY.keys, "theme"),
    ):
        values = raw.get(name, [])
        if not isinstance(values, list):
            err[name] = Reason("list")
        for v in values if isinstance(values, list) else ():
            if v not in known:
                err[name] = Reason(code, {"value": repr(v)})
    links = _per_language(raw.get("promoter_links", {}), "promoter_links", err, ("default",))
    for lang, link in links.items():
        if not _url(link):
            err[f"promoter_links.{lang}"] = Reason("url")
    for lang, v in _per_language(raw.get("promoter_texts", {}), "promoter_texts", err).items():
        if (why := _text(v, frozenset({"link"}))) is not None:
            err[f"promoter_texts.{lang}"] = why
    routes = raw.get("routes", [])
    for i, route in enumerate(routes if isinstance(routes, list) else [None], start=1):
        ok = (
            isinstance(route, Mapping)
            and isinstance(route.get("match"), Mapping)
            and bool(route.get("telegram_chat_id") or route.get("notify_urls"))
            and isinstance(route.get("notify_urls", []), list)
            and not set(route) - {"match", "telegram_chat_id", "notify_urls"}
        )
        if not ok:
            err[f"routes.{i}"] = Reason("route")


def _check_program(raw: Mapping[str, Any], err: dict[str, Reason]) -> None:
    """kind, and a relational survey's audience, cadence and daily cap."""
    kind = raw.get("kind", "transactional")
    if kind not in KINDS:
        err["kind"] = Reason("kind")
    for name, (low, high) in PROGRAM_NUMBERS.items():
        if name in raw and (why := _whole(raw[name], low, high)) is not None:
            err[name] = why
    audience = raw.get("audience", {})
    if "audience" in raw and not _audience_ok(audience):
        err["audience"] = Reason("audience")
    if kind != "relational":
        for name in ("audience", *PROGRAM_NUMBERS):
            if name in raw:
                err[name] = Reason("relational_only")


def _audience_ok(value: object) -> bool:
    if not isinstance(value, Mapping) or set(value) - {"attributes", *AUDIENCE_DAYS}:
        return False
    attrs = value.get("attributes", {})
    scalar = (str, int, float, bool)
    ok = isinstance(attrs, Mapping) and all(
        isinstance(v, scalar)
        or (isinstance(v, list) and v and all(isinstance(x, scalar) for x in v))
        for v in attrs.values()
    )
    return ok and all(_whole(value[d], 0, 36_500) is None for d in AUDIENCE_DAYS if d in value)


def check_survey(raw: Mapping[str, Any]) -> SurveyDef:
    """One survey as the file spells it (the dashboard's form gives the same shape) → its
    definition; `SurveyInvalid` with every refused field otherwise."""
    err: dict[str, Reason] = {}
    key = raw.get("key")
    if not key:
        err["key"] = Reason("required")
    elif not isinstance(key, str) or not KEY.fullmatch(key):
        err["key"] = Reason("key")
    name = raw.get("name", key)
    named = "name" in raw or "key" not in err  # no key: the name it would default to is moot
    if named and (not isinstance(name, str) or not 1 <= len(name.strip()) <= 200):
        err["name"] = Reason("name")
    for k in sorted(set(raw) - set(FIELDS)):
        err[str(k)] = Reason("unknown_field")
    numbers: dict[str, Any] = {}
    for k, (low, high) in NUMBERS.items():
        numbers[k] = raw.get(k, getattr(DEFAULT, k))
        if numbers[k] is not None and (why := _whole(numbers[k], low, high)) is not None:
            err[k] = why
    reminder, expiry = numbers["reminder_hours"] or None, numbers["expiry_hours"]
    ok = "reminder_hours" not in err and "expiry_hours" not in err
    if ok and reminder is not None and reminder >= expiry:
        err["reminder_hours"] = Reason("reminder")
    channels = _check_channels(raw.get("channels", list(DEFAULT.channels)), err)
    texts = _check_texts(raw.get("texts", {}), err)
    _check_options(raw, err)
    _check_program(raw, err)
    if err:
        raise SurveyInvalid(err)
    return SurveyDef(
        key=str(key),
        name=str(name).strip(),
        delay_minutes=numbers["delay_minutes"],
        resurvey_days=numbers["resurvey_days"],
        reminder_hours=reminder,
        expiry_hours=expiry,
        channels=channels,
        texts=texts,
        options={k: raw[k] for k in OPTIONS if k in raw},
    )


def survey_table(d: SurveyDef) -> dict[str, Any]:
    """A definition as the file spells it (what `check_survey` reads back unchanged)."""
    out: dict[str, Any] = {
        "key": d.key,
        "name": d.name,
        "delay_minutes": d.delay_minutes,
        "resurvey_days": d.resurvey_days,
        "reminder_hours": d.reminder_hours or 0,  # TOML has no null: 0 is "no reminder"
        "expiry_hours": d.expiry_hours,
        "channels": list(d.channels),
    }
    return out | dict(d.options) | ({"texts": d.texts} if d.texts else {})


def parse_surveys(data: Mapping[str, Any], source: str = "surveys file") -> list[SurveyDef]:
    out: list[SurveyDef] = []
    surveys = data.get("survey", [])
    if not isinstance(surveys, list) or set(data) - {"survey"}:
        raise SurveyFileError(f"{source}: a surveys file holds only [[survey]] tables")
    for i, raw in enumerate(surveys, start=1):
        key = raw.get("key") if isinstance(raw, Mapping) else None
        where = (
            f"{source}: survey {key!r}"
            if isinstance(key, str) and key
            else f"{source}: survey #{i}"
        )
        try:
            d = check_survey(raw if isinstance(raw, Mapping) else {})
        except SurveyInvalid as exc:
            raise SurveyFileError(f"{where}: {exc}") from exc
        if any(d.key == o.key for o in out):
            raise SurveyFileError(f"{where}: key: {Reason('exists')}")
        out.append(d)
    return out


def load_surveys(path: str | None) -> list[SurveyDef]:
    if not path:
        return [DEFAULT]
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SurveyFileError(f"{path}: {exc}") from exc
    return parse_surveys(data, path) or [DEFAULT]

"""The dashboard's language: English source strings, translated in Babel catalogs
`bot/locale/<lang>/LC_MESSAGES/web-<area>.po` (one per area of the dashboard), compiled in memory
like the customer texts (`bot.texts.catalog`). Jinja's own i18n extension gives templates
`_("…")`; Python code uses `_` from here. The language is the user's choice, else the
browser's, else DEFAULT_LANGUAGE.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, g, has_request_context, request

from bot.config import LANGUAGES
from bot.texts import catalog
from channels import registry
from scoring import DEFAULT_TAXONOMY

# Names shown in the language menu, each in its own language.
NAMES = {"es": "Español", "en": "English", "pt": "Português"}


def N_(text: str) -> str:
    return text


# Labels, never identifiers: each stored value with its English label (the msgid).
STATUSES = {"open": N_("Open"), "taken": N_("Taken"), "resolved": N_("Resolved")}
OUTCOMES = {
    "called_back": N_("Called back"),
    "refunded": N_("Refunded"),
    "replaced": N_("Replaced"),
    "no_action": N_("No action"),
    "other": N_("Other"),
}
ROLES = {"owner": N_("Owner"), "agent": N_("Agent"), "viewer": N_("Viewer")}
CATEGORIES = {"detractor": N_("Detractor"), "passive": N_("Passive"), "promoter": N_("Promoter")}


def language() -> str:
    """This request's language (set by the dashboard's `before_request`), else the default."""
    if has_request_context() and g.get("lang") in LANGUAGES:
        return str(g.lang)
    return "es"


def browser_language(default: str) -> str:
    """The best of es/en/pt for the browser's Accept-Language; `default` when none fits."""
    best = request.accept_languages.best_match(LANGUAGES)
    return best or default


def _(text: str, **params: Any) -> str:
    """`text` in this request's language, with `%(name)s` parameters filled in."""
    out = catalog(language(), "web*.po").gettext(text)
    return out % params if params else out


def ngettext(one: str, many: str, n: int, **params: Any) -> str:
    out = catalog(language(), "web*.po").ngettext(one, many, n)
    return out % {"num": n, **params}


def label(table: dict[str, str], key: str | None) -> str:
    """A stored value's label in this request's language; an unknown value as it is."""
    if key is None:
        return "—"
    return _(table[key]) if key in table else key


def theme(key: str) -> str:
    """A theme's label from scoring's taxonomy; a key it does not know (stored before a
    change) as it is."""
    try:
        return DEFAULT_TAXONOMY.label(key, language())
    except KeyError:
        return key


def channel(name: str | None) -> str:
    return (registry.capabilities(name).label or name) if name else "—"


def install(app: Flask) -> None:
    """Give every template `_`, `ngettext` and the label filters."""
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda text: catalog(language(), "web*.po").gettext(text),
        lambda one, many, n: catalog(language(), "web*.po").ngettext(one, many, n),
        newstyle=True,  # _("%(n)s answers", n=3): parameters filled in and escaped
    )
    app.jinja_env.filters.update(
        status=lambda k: label(STATUSES, k),
        outcome=lambda k: label(OUTCOMES, k),
        role=lambda k: label(ROLES, k),
        category=lambda k: label(CATEGORIES, k),
        theme=theme,
        channel=channel,
    )
    app.jinja_env.globals.update(language=language, LANGUAGE_NAMES=NAMES)

"""The dashboard speaks Spanish, English and Portuguese: every text marked for translation in
`bot/web` (Python `_`/`N_` and the templates' `_`) has a Spanish and a Portuguese translation in
the `web-*.po` catalogs, with the same placeholders, and no catalog keeps a text nobody uses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "bot" / "web"
METHODS = [("**.py", "python"), ("**/templates/**.html", "jinja2.ext:babel_extract")]
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def used() -> dict[str, str]:
    """Each msgid marked in bot/web, with where it is used first."""
    found: dict[str, str] = {}
    options = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    for name, line, msg, _comments, _ctx in extract_from_dir(
        WEB, METHODS, options_map=options, keywords={"_": None, "N_": None, "gettext": None}
    ):
        ids = msg if isinstance(msg, tuple) else (msg,)
        for m in ids:
            if m:
                found.setdefault(m, f"{name}:{line}")
    return found


def catalog(lang: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for po in sorted((ROOT / "bot" / "locale" / lang / "LC_MESSAGES").glob("web*.po")):
        with po.open("rb") as fh:
            for m in read_po(fh, locale=lang):
                if m.id and isinstance(m.id, str):
                    out[m.id] = str(m.string or "")
    return out


USED = used()


def test_the_dashboard_marks_its_texts_for_translation() -> None:
    assert len(USED) > 100  # the extraction finds the templates, not just Python


@pytest.mark.parametrize("lang", ["es", "pt"])
def test_every_dashboard_text_is_translated(lang: str) -> None:
    have = catalog(lang)
    missing = [f"{where}: {msg!r}" for msg, where in USED.items() if not have.get(msg)]
    assert not missing, f"{len(missing)} texts lack a {lang} translation:\n" + "\n".join(missing)


@pytest.mark.parametrize("lang", ["es", "pt"])
def test_translations_keep_the_placeholders(lang: str) -> None:
    wrong = [
        msg
        for msg, text in catalog(lang).items()
        if text and sorted(PLACEHOLDER.findall(msg)) != sorted(PLACEHOLDER.findall(text))
    ]
    assert not wrong


@pytest.mark.parametrize("lang", ["es", "pt"])
def test_catalogs_hold_no_text_nobody_uses(lang: str) -> None:
    assert not sorted(set(catalog(lang)) - set(USED))

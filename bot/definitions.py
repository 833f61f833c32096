"""Survey definitions (touchpoints): a version-controllable TOML file, read at start-up.

Part of the configuration, like `bot.config`: the Runtime holds them; `npsbot surveys sync FILE`
(`bot.survey.surveys`) writes them to the database, which start-up never does.

[[survey]]
key = "post-purchase"
name = "After a purchase"
delay_minutes = 120
channels = ["whatsapp", "sms", "telegram"]
[survey.texts.es]
question = "¿Qué tan probable es que nos recomiendes? Responde del 0 al 10."
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.config import LANGUAGES
from bot.texts import MESSAGES

DEFAULT_CHANNELS = ("whatsapp", "sms", "telegram", "sandbox")


class SurveyFileError(ValueError):
    pass


@dataclass(frozen=True)
class SurveyDef:
    key: str
    name: str
    delay_minutes: int = 120
    resurvey_days: int = 30
    reminder_hours: int | None = 24
    expiry_hours: int = 72
    channels: tuple[str, ...] = DEFAULT_CHANNELS
    texts: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)


DEFAULT = SurveyDef(key="post-purchase", name="After a purchase")

_KNOWN = {
    "key",
    "name",
    "delay_minutes",
    "resurvey_days",
    "reminder_hours",
    "expiry_hours",
    "channels",
    "texts",
}


def parse_surveys(data: Mapping[str, Any], source: str = "surveys file") -> list[SurveyDef]:
    out: list[SurveyDef] = []
    for i, raw in enumerate(data.get("survey", []), start=1):
        where = f"{source}: survey #{i}"
        if not isinstance(raw, dict) or not isinstance(raw.get("key"), str) or not raw["key"]:
            raise SurveyFileError(f"{where}: `key` is required")
        where = f"{source}: survey {raw['key']!r}"
        for name in ("delay_minutes", "resurvey_days", "expiry_hours", "reminder_hours"):
            value = raw.get(name)
            if value is not None and (not isinstance(value, int) or value < 0):
                raise SurveyFileError(f"{where}: `{name}` must be a whole number ≥ 0")
        texts = raw.get("texts", {})
        for lang, items in texts.items():
            if lang not in LANGUAGES:
                raise SurveyFileError(f"{where}: texts for unknown language {lang!r}")
            unknown = set(items) - set(MESSAGES)
            if unknown:
                raise SurveyFileError(f"{where}: unknown text keys {sorted(unknown)}")
        out.append(
            SurveyDef(
                key=raw["key"],
                name=str(raw.get("name", raw["key"])),
                delay_minutes=raw.get("delay_minutes", DEFAULT.delay_minutes),
                resurvey_days=raw.get("resurvey_days", DEFAULT.resurvey_days),
                reminder_hours=raw.get("reminder_hours", DEFAULT.reminder_hours),
                expiry_hours=raw.get("expiry_hours", DEFAULT.expiry_hours),
                channels=tuple(raw.get("channels", DEFAULT.channels)),
                texts=texts,
                options={k: v for k, v in raw.items() if k not in _KNOWN},
            )
        )
    return out


def load_surveys(path: str | None) -> list[SurveyDef]:
    if not path:
        return [DEFAULT]
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SurveyFileError(f"{path}: {exc}") from exc
    return parse_surveys(data, path) or [DEFAULT]

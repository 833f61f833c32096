"""One validation for every writer of a survey (the surveys file, `npsbot surveys import`, the
dashboard's form): each refused value is named by its field, with one reason."""

from __future__ import annotations

from typing import Any

import pytest

from bot.definitions import (
    DEFAULT,
    REASONS,
    SurveyDef,
    SurveyFileError,
    SurveyInvalid,
    check_survey,
    parse_surveys,
    survey_table,
)
from bot.web.dashboard import surveys as page

SID = "HX0a1b2c3d4e5f60718293a4b5c6d7e8f9"


def refused(**fields: Any) -> dict[str, str]:
    with pytest.raises(SurveyInvalid) as exc:
        check_survey({"key": "k", **fields})
    return {k: str(v) for k, v in exc.value.errors.items()}


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"key": ""}, "key", "required"),
        ({"key": "con espacio"}, "key", "1 to 64 letters, digits, - or _"),
        ({"name": " "}, "name", "a name of 1 to 200 characters"),
        ({"delay_minutes": -1}, "delay_minutes", "a whole number from 0 to 525600"),
        ({"delay_minutes": "90"}, "delay_minutes", "a whole number from 0 to 525600"),
        ({"delay_minutes": True}, "delay_minutes", "a whole number"),
        ({"expiry_hours": 0}, "expiry_hours", "a whole number from 1 to 8760"),
        ({"resurvey_days": 1.5}, "resurvey_days", "a whole number from 0 to 3650"),
        ({"reminder_hours": 72}, "reminder_hours", "must come before the survey expires"),
        ({"channels": []}, "channels", "at least one channel"),
        ({"channels": ["sms", "fax"]}, "channels", "unknown channel 'fax'"),
        ({"channels": ["sms", "sms"]}, "channels", "channel 'sms' is listed twice"),
        ({"channels": "sms"}, "channels", "a list of values"),
        ({"texts": {"fr": {"question": "?"}}}, "texts.fr", "unknown language 'fr'"),
        ({"texts": {"pt": {"pergunta": "?"}}}, "texts.pt.pergunta", "unknown text 'pergunta'"),
        ({"texts": {"pt": {"question": ""}}}, "texts.pt.question", "text of 1 to 1600"),
        ({"texts": {"pt": {"question": "x" * 1601}}}, "texts.pt.question", "text of 1 to 1600"),
        (
            {"texts": {"pt": {"question": "Oi {nome}"}}},
            "texts.pt.question",
            "unknown placeholder {nome}; allowed: {business}",
        ),
        (
            {"texts": {"es": {"score_chosen": "Nota {puntos}"}}},
            "texts.es.score_chosen",
            "allowed: {business}, {score}",
        ),
        ({"texts": {"es": {"question": "10 {"}}}, "texts.es.question", "a { or } without"),
        ({"quiet_hours": ["22:00"]}, "quiet_hours", "two times of day, HH:MM"),
        ({"quiet_hours": ["25:00", "08:00"]}, "quiet_hours", "two times of day"),
        ({"quiet_hours": ["9", "08:00"]}, "quiet_hours", "two times of day"),
        ({"whatsapp_templates": {"pt": {"sid": "HX1"}}}, "whatsapp_templates.pt.sid", "HX and 32"),
        (
            {"whatsapp_templates": {"pt": {"sid": SID, "variables": {"dos": "x"}}}},
            "whatsapp_templates.pt.variables",
            "numbered template variables",
        ),
        ({"alert_on": ["angry"]}, "alert_on", "unknown category 'angry'"),
        ({"alert_themes": ["weather"]}, "alert_themes", "unknown theme 'weather'"),
        ({"promoter_links": {"pt": "g.page/r/acme"}}, "promoter_links.pt", "http:// or https://"),
        ({"promoter_texts": {"es": "Reseña: {url}"}}, "promoter_texts.es", "allowed: {link}"),
        ({"routes": [{"match": {"store": "A"}}]}, "routes.1", "each route needs a match table"),
        ({"qiet_hours": ["22:00", "08:00"]}, "qiet_hours", "unknown field"),
        ({"whatsapp_optin": "yes"}, "whatsapp_optin", "optional or required"),
    ],
)
def test_a_refused_value_names_its_field_and_why(
    fields: dict[str, Any], field: str, reason: str
) -> None:
    errors = refused(**fields)
    assert list(errors) == [field] and reason in errors[field]


def test_every_refused_field_is_named_at_once() -> None:
    errors = refused(delay_minutes=-1, channels=[], alert_on=["x"])
    assert sorted(errors) == ["alert_on", "channels", "delay_minutes"]


def test_a_complete_survey_is_accepted_and_reads_back_as_it_was_written() -> None:
    raw = {
        "key": "post-purchase",
        "name": "After a purchase",
        "delay_minutes": 0,
        "reminder_hours": 0,
        "channels": ["sandbox", "sms"],
        "quiet_hours": ["22:00", "08:00"],
        "whatsapp_optin": "required",
        "texts": {"pt": {"question": "Oi! De 0 a 10, e a {business}?", "help": "{{ajuda}}"}},
        "whatsapp_templates": {"pt": {"sid": SID, "variables": {"2": "Loja"}}},
        "alert_on": ["detractor", "passive"],
        "alert_themes": ["delivery"],
        "promoter_links": {"default": "https://g.page/r/acme/review"},
        "routes": [{"match": {"store": "Polanco"}, "telegram_chat_id": "-100555"}],
    }
    d = check_survey(raw)
    assert d.reminder_hours is None  # 0: no reminder
    assert d.options["quiet_hours"] == ["22:00", "08:00"]
    assert check_survey(survey_table(d)) == d
    assert check_survey(survey_table(DEFAULT)) == DEFAULT


def test_the_file_names_the_survey_and_the_field() -> None:
    data = {"survey": [{"key": "a"}, {"key": "b", "delay_minutes": -1}]}
    with pytest.raises(SurveyFileError, match=r"^s.toml: survey 'b': delay_minutes: a whole"):
        parse_surveys(data, "s.toml")
    with pytest.raises(SurveyFileError, match="survey 'a': key: a survey with this key already"):
        parse_surveys({"survey": [{"key": "a"}, {"key": "a"}]}, "s.toml")
    assert parse_surveys({"survey": [{"key": "a"}]}) == [SurveyDef("a", "a")]


def test_the_dashboard_shows_every_reason_the_validation_gives() -> None:
    assert page.REASONS == REASONS  # the same English text, marked there for translation

"""Surveys edited in the database (`save_survey`, the dashboard's writer) and exported as TOML
(`export_toml`, what `import` reads back): both databases. The next survey sent uses an edit."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from bot.definitions import DEFAULT, SurveyInvalid, parse_surveys, survey_table
from bot.runtime import Runtime
from bot.staff.chat import StaffChat
from bot.storage.models import Survey
from bot.survey.surveys import diff_surveys, export_toml, save_survey
from tests.conftest import Clock
from tests.helpers import SandboxCustomer

OWNER = "dashboard:ana"


def default_values() -> dict[str, object]:
    table = survey_table(DEFAULT)
    del table["key"]
    return table


def row(rt: Runtime, key: str = "post-purchase") -> Survey:
    with rt.db.session() as s:
        found = s.scalar(select(Survey).where(Survey.key == key))
        assert found is not None
        return found


def test_an_edit_is_written_with_who_and_when_and_names_the_fields_changed(
    rt: Runtime, clock: Clock
) -> None:
    clock.now = datetime(2026, 12, 2, 15, 30, tzinfo=UTC)
    values = default_values() | {
        "delay_minutes": 45,
        "texts": {"pt": {"question": "De 0 a 10, você nos recomendaria?"}},
        "quiet_hours": ["22:00", "08:00"],
    }
    with rt.db.session_for_update() as s:
        changed = save_survey(s, "post-purchase", values, OWNER, clock())
    assert changed == ("delay_minutes", "texts", "options")
    saved = row(rt)
    assert saved.delay_minutes == 45 and saved.options == {"quiet_hours": ["22:00", "08:00"]}
    assert saved.texts == {"pt": {"question": "De 0 a 10, você nos recomendaria?"}}
    assert saved.updated_by == OWNER
    assert saved.updated_at.replace(tzinfo=UTC) == clock.now

    with rt.db.session_for_update() as s:
        assert save_survey(s, "post-purchase", values, "dashboard:luis", clock()) == ()
    assert row(rt).updated_by == OWNER  # nothing changed: still Ana's edit


def test_a_refused_edit_names_every_field_and_writes_nothing(rt: Runtime, clock: Clock) -> None:
    values = default_values() | {
        "delay_minutes": "abc",
        "channels": ["sms", "fax"],
        "texts": {"pt": {"question": "Oi {nome}"}},
        "whatsapp_templates": {"pt": {"sid": "HX123"}},
    }
    with pytest.raises(SurveyInvalid) as refused, rt.db.session_for_update() as s:
        save_survey(s, "post-purchase", values, OWNER, clock())
    assert sorted(refused.value.errors) == [
        "channels",
        "delay_minutes",
        "texts.pt.question",
        "whatsapp_templates.pt.sid",
    ]
    assert str(refused.value.errors["channels"]) == "unknown channel 'fax'"
    assert row(rt).delay_minutes == DEFAULT.delay_minutes and row(rt).updated_by == "start-up"


def test_a_new_survey_is_created_once_by_key(rt: Runtime, clock: Clock) -> None:
    values = default_values() | {"name": "Delivered"}
    with rt.db.session_for_update() as s:
        save_survey(s, "after-delivery", values, OWNER, clock(), new=True)
    assert row(rt, "after-delivery").name == "Delivered"
    with pytest.raises(SurveyInvalid) as again, rt.db.session_for_update() as s:
        save_survey(s, "after-delivery", values, OWNER, clock(), new=True)
    assert str(again.value.errors["key"]) == "a survey with this key already exists"
    with pytest.raises(KeyError), rt.db.session_for_update() as s:
        save_survey(s, "nowhere", values, OWNER, clock())


def test_the_export_reads_back_as_no_change_and_an_edit_shows_in_the_diff(
    rt: Runtime, clock: Clock
) -> None:
    values = default_values() | {
        "reminder_hours": 0,
        "alert_on": ["detractor", "passive"],
        "promoter_links": {"default": "https://g.page/r/acme/review"},
        "whatsapp_templates": {
            "es": {"sid": "HX0a1b2c3d4e5f60718293a4b5c6d7e8f9", "variables": {"2": "Tienda"}}
        },
        "texts": {"es": {"why_passive": "¿Qué nos faltó para el 10?"}},
    }
    with rt.db.session_for_update() as s:
        save_survey(s, "post-purchase", values, OWNER, clock())
        text = export_toml(s)
    defs = parse_surveys(tomllib.loads(text), "export")
    with rt.db.session() as s:
        assert [(c.key, c.status) for c in diff_surveys(s, defs)] == [
            ("post-purchase", "unchanged")
        ]
    edited = parse_surveys(tomllib.loads(text.replace("Tienda", "Loja")), "edited")
    with rt.db.session() as s:
        assert [c.fields for c in diff_surveys(s, edited)] == [("options",)]


def test_the_next_survey_sent_uses_the_edited_text(
    client: FlaskClient, rt: Runtime, clock: Clock
) -> None:
    first = SandboxCustomer(client, rt, language="pt", name="João")
    assert first.receive_survey().startswith("Considerando toda a sua experiência")
    values = default_values() | {"texts": {"pt": {"question": "Oi! De 0 a 10, e a {business}?"}}}
    with rt.db.session_for_update() as s:
        save_survey(s, "post-purchase", values, OWNER, clock())
    second = SandboxCustomer(client, rt, language="pt", name="Maria")
    assert second.receive_survey() == "Oi! De 0 a 10, e a npsbot?"


def test_an_alert_route_added_after_start_up_lets_its_chat_act_on_cases(
    rt: Runtime, clock: Clock
) -> None:
    staff = replace(rt, settings=replace(rt.settings, staff_telegram_user_ids="4242"))
    chat = StaffChat()
    assert chat.may_act(staff, "telegram", "-1005555555555", "4242") is not None
    values = default_values() | {
        "routes": [{"match": {"store": "Polanco"}, "telegram_chat_id": "-1005555555555"}]
    }
    with rt.db.session_for_update() as s:
        save_survey(s, "post-purchase", values, "cli:import", clock())
    assert chat.may_act(staff, "telegram", "-1005555555555", "4242") is None

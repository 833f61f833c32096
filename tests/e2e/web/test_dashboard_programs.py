"""Relational programs in the dashboard: an owner makes a survey relational (cadence, daily cap,
audience) in the survey editor, a refused value is named beside its field; the overview filters
by kind and draws each kind's trend line when none is chosen."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask.testing import FlaskClient

from bot.runtime import Runtime
from bot.survey.surveys import save_survey
from tests.conftest import Clock
from tests.e2e.web.test_dashboard import log_in
from tests.e2e.web.test_dashboard_surveys import PAGE, form_of, stored, team
from tests.integration.insights.seed import Answer, seed

__all__ = ["team"]  # the fixture, imported for these tests

RELATIONAL = {
    "kind": "relational",
    "cadence_days": "30",
    "daily_cap": "20",
    "audience.attributes": "segment = gold, silver\ncity = CDMX",
    "audience.last_purchase_within_days": "365",
}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no storage semantics
def test_an_owner_makes_a_survey_relational_and_it_reads_back(
    client: FlaskClient, rt: Runtime, team: None
) -> None:
    assert log_in(client) == 302
    data = form_of(client.get(PAGE).get_data(as_text=True)) | RELATIONAL
    r = client.post(PAGE, data=data)
    assert r.status_code == 302, r.get_data(as_text=True)
    assert stored(rt).options == {
        "kind": "relational",
        "cadence_days": 30,
        "daily_cap": 20,
        "audience": {
            "attributes": {"segment": ["gold", "silver"], "city": "CDMX"},
            "last_purchase_within_days": 365,
        },
    }
    html = client.get(PAGE).get_data(as_text=True)
    assert '<option value="relational" selected>' in html
    assert "segment = gold, silver\ncity = CDMX</textarea>" in html
    assert form_of(html)["daily_cap"] == "20"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no storage semantics
def test_a_refused_program_field_is_named_beside_it(
    client: FlaskClient, rt: Runtime, team: None
) -> None:
    assert log_in(client) == 302
    base = form_of(client.get(PAGE).get_data(as_text=True))
    r = client.post(PAGE, data=base | {"kind": "transactional", "daily_cap": "20"})
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert 'data-field="daily_cap">only for a relational survey' in html
    r = client.post(PAGE, data=base | RELATIONAL | {"audience.attributes": "gold silver"})
    assert 'data-field="audience">attributes (a table' in r.get_data(as_text=True)
    r = client.post(PAGE, data=base | RELATIONAL | {"cadence_days": "0"})
    assert 'data-field="cadence_days">a whole number from 1 to 3650' in r.get_data(as_text=True)
    assert stored(rt).options == {}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no storage semantics
def test_the_overview_filters_by_kind_and_draws_both_lines(
    client: FlaskClient, rt: Runtime, clock: Clock, team: None
) -> None:
    with rt.db.session_for_update() as s:
        values = {"name": "Quarterly", "channels": ["sms"], "kind": "relational"}
        save_survey(s, "base", values, "test", clock(), new=True)
    day = clock() - timedelta(days=3)
    seed(rt, [Answer(9, day), Answer(3, day, survey="base"), Answer(10, day, survey="base")])
    assert log_in(client) == 302
    html = client.get("/dashboard").get_data(as_text=True)
    assert 'id="filter-kind"' in html
    assert html.count('class="line kind kind-') == 2  # transactional and relational
    only = client.get("/dashboard?kind=relational").get_data(as_text=True)
    assert '<option value="relational" selected>Relational</option>' in only
    assert 'class="line kind' not in only
    assert 'data-n="2"' in only  # the relational answers only
    assert client.get("/dashboard?kind=blast").status_code == 422

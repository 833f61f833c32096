"""Reports separate the two halves of an NPS program: `kind=relational|transactional` on every
report, the trend's two lines as a `by=kind` breakdown, and a relational survey's NPS and
response rate per contact attribute (`by=attribute.segment`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from bot.insights import rollup
from bot.runtime import Runtime
from bot.storage.models import Contact
from bot.survey.surveys import save_survey
from scoring import nps
from tests.integration.insights.seed import Answer, api_key, seed

MON = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
AFTER_PURCHASE = [10, 9, 3, 8]  # transactional: 2 promoters, 1 detractor
GOLD, SILVER = [10, 10, 9], [2, 4, 9]  # relational, by segment


@pytest.fixture
def headers(rt: Runtime) -> dict[str, str]:
    with rt.db.session_for_update() as s:
        values = {"name": "Every quarter", "channels": ["sms"], "kind": "relational"}
        save_survey(s, "base", values, "test", rt.clock(), new=True)
    answers = [Answer(v, MON + timedelta(hours=i)) for i, v in enumerate(AFTER_PURCHASE)]
    for segment, scores in (("gold", GOLD), ("silver", SILVER)):
        answers += [
            Answer(v, MON + timedelta(days=8, hours=i), survey="base", customer=f"{segment}-{i}")
            for i, v in enumerate(scores)
        ]
        # One more of each segment asked and never answered: a response rate of 3/4.
        answers.append(Answer(None, MON + timedelta(days=8), survey="base", customer=segment))
    seed(rt, answers)
    with rt.db.session() as s:
        for c in s.scalars(select(Contact)):
            if c.name and c.name.split("-")[0] in ("gold", "silver"):
                c.attributes = {"segment": c.name.split("-")[0]}
    return api_key(rt)


def _get(client: FlaskClient, headers: dict[str, str], url: str) -> Any:
    r = client.get(url, headers=headers)
    assert r.status_code == 200, r.json
    return r.json


@pytest.mark.parametrize("rolled", [False, True], ids=["raw", "rollup"])
def test_kind_filters_every_report_and_breaks_the_nps_in_two(
    client: FlaskClient, rt: Runtime, headers: dict[str, str], rolled: bool
) -> None:
    if rolled:
        with rt.db.session() as s:
            rollup.refresh_rollup(s, (MON + timedelta(days=30)).date(), margin=timedelta(0))
    relational = _get(client, headers, "/api/v1/nps?kind=relational")
    expected = nps(promoters=4, passives=0, detractors=2)  # GOLD + SILVER
    assert (relational["responses"], relational["nps"]) == (6, round(expected.score, 1))
    assert relational["filters"]["kind"] == ["relational"]
    transactional = _get(client, headers, "/api/v1/nps?kind=transactional")
    assert transactional["responses"] == len(AFTER_PURCHASE)
    groups = _get(client, headers, "/api/v1/nps/breakdown?by=kind")["groups"]
    assert {g["value"]: g["responses"] for g in groups} == {"relational": 6, "transactional": 4}
    trend = _get(client, headers, "/api/v1/nps/trend?kind=relational&interval=week")
    assert [p["responses"] for p in trend["points"]] == [6]  # only the relational week


def test_relational_response_rate_and_nps_by_segment(
    client: FlaskClient, headers: dict[str, str]
) -> None:
    body = _get(client, headers, "/api/v1/nps/breakdown?by=attribute.segment&kind=relational")
    by = {g["value"]: g for g in body["groups"]}
    assert set(by) == {"gold", "silver"}
    assert by["gold"]["nps"] == 100.0 and by["silver"]["responses"] == 3
    assert by["gold"]["response_rate"] == {"delivered": 4, "answered": 3, "rate": 0.75}


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/nps?kind=blast", "kind"),
        ("/api/v1/nps/breakdown?by=attribute.", "by"),
        ("/api/v1/nps/breakdown?by=attribute.a%20b", "by"),
    ],
)
def test_a_bad_kind_or_attribute_is_a_422_naming_it(
    client: FlaskClient, headers: dict[str, str], url: str, field: str
) -> None:
    r = client.get(url, headers=headers)
    assert r.status_code == 422 and r.json["field"] == field

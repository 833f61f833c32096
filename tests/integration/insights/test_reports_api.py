"""The reporting API: NPS, trend, breakdowns, responses and themes, on SQLite and PostgreSQL.

Numbers are checked against `scoring.nps` / `scoring.compare_nps` on known data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from bot.accounts.apikeys import create_key, revoke_key
from bot.runtime import Runtime
from bot.storage.models import ApiKey
from scoring import compare_nps, nps
from tests.conftest import Clock
from tests.integration.insights.seed import Answer, api_key, seed

MON = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)  # a Monday


def week(n: int, hours: int = 0) -> datetime:
    return MON + timedelta(weeks=n, hours=hours)


# Week 0: mostly unhappy on SMS; week 1: happy on WhatsApp; store metadata on some.
WEEK0 = [2, 3, 5, 6, 6, 7, 8, 9, 10, 4, 5, 6]
WEEK1 = [9, 10, 10, 9, 8, 7, 10, 9, 9, 10, 6, 10]


@pytest.fixture
def data(rt: Runtime) -> dict[str, Any]:
    answers = [
        Answer(s, week(0, i), channel="sms", store="centro", comment="tardó", themes=["delivery"])
        for i, s in enumerate(WEEK0)
    ]
    answers += [
        Answer(
            s,
            week(1, i),
            channel="whatsapp",
            store="norte",
            language="en",
            comment="great" if s >= 9 else None,
            themes=["staff"] if s >= 9 else [],
        )
        for i, s in enumerate(WEEK1)
    ]
    answers += [Answer(None, week(1, 30), channel="whatsapp")] * 1  # delivered, unanswered
    answers += [Answer(None, week(0, 30), channel="sms")]
    seed(rt, answers)
    return {"headers": api_key(rt)}


def get(client: FlaskClient, data: dict[str, Any], url: str, status: int = 200) -> Any:
    r = client.get(url, headers=data["headers"])
    assert r.status_code == status, r.json
    return r.json


def test_nps_matches_scoring_nps_with_counts_shares_margin_and_distribution(
    client: FlaskClient, data: dict[str, Any]
) -> None:
    body = get(client, data, "/api/v1/nps")
    expected = nps(WEEK0 + WEEK1)
    assert body["responses"] == expected.n == 24
    assert (body["promoters"], body["passives"], body["detractors"]) == (
        expected.promoters,
        expected.passives,
        expected.detractors,
    )
    assert body["nps"] == round(expected.score, 1)
    assert body["margin_of_error"] == round(expected.margin_of_error, 1)
    assert body["promoter_share"] == round(expected.promoter_share, 4)
    assert body["distribution"] == list(expected.distribution)
    # 26 delivered (2 never answered), 24 answered.
    assert (body["delivered"], body["answered"]) == (26, 24)
    assert body["response_rate"] == round(24 / 26, 4)


def test_response_rate_counts_late_answers_and_opt_outs_after_the_score(
    client: FlaskClient, rt: Runtime, data: dict[str, Any]
) -> None:
    seed(
        rt,
        [
            Answer(9, week(2), channel="telegram", state="expired", late=True),
            Answer(3, week(2, 1), channel="telegram", state="opted_out"),
            Answer(None, week(2, 2), channel="telegram", state="expired"),
            Answer(None, week(2, 3), channel="telegram", state="opted_out"),
        ],
    )
    body = get(client, data, "/api/v1/nps?channel=telegram")
    assert (body["delivered"], body["answered"], body["response_rate"]) == (4, 2, 0.5)


FILTER_CASES = [
    pytest.param("channel=sms", WEEK0, id="channel"),
    pytest.param("store=norte", WEEK1, id="metadata key as a parameter"),
    pytest.param("meta.store=centro", WEEK0, id="metadata key with meta. prefix"),
    pytest.param("language=en", WEEK1, id="language"),
    pytest.param("from=2026-11-09", WEEK1, id="from a date"),
    pytest.param("to=2026-11-08", WEEK0, id="to a date, inclusive"),
    pytest.param(
        "from=2026-11-02T12:00:00Z&to=2026-11-02T15:00:00Z",
        WEEK0[:3],
        id="RFC 3339 window, end exclusive",
    ),
    pytest.param(
        "survey=post-purchase&channel=sms,whatsapp",
        WEEK0 + WEEK1,
        id="survey and a channel list",
    ),
    pytest.param("store=nowhere", [], id="no match gives an empty report"),
]


def test_filters_select_the_right_answers(client: FlaskClient, data: dict[str, Any]) -> None:
    # One database, many labelled cases (a test per case would re-seed it each time).
    for case in FILTER_CASES:
        query, scores = case.values
        body = get(client, data, f"/api/v1/nps?{query}")
        expected = nps(scores)
        assert body["responses"] == len(scores), case.id
        assert body["nps"] == (None if expected.score is None else round(expected.score, 1)), (
            case.id
        )
        assert body["distribution"] == list(expected.distribution), case.id


BAD_FILTERS = [
    pytest.param("from=yesterday", "from", id="bad date"),
    pytest.param("from=2026-11-02T10:00:00", "from", id="timestamp without offset"),
    pytest.param("from=2026-11-10&to=2026-11-01", "to", id="to before from"),
    pytest.param("survey=nope", "survey", id="unknown survey"),
    pytest.param("channel=SMS!", "channel", id="bad channel"),
    pytest.param("category=fan", "category", id="bad category"),
    pytest.param("st%20ore=x", "st ore", id="not a metadata key"),
]


def test_a_bad_filter_answers_422_naming_the_parameter(
    client: FlaskClient, data: dict[str, Any]
) -> None:
    for case in BAD_FILTERS:
        query, field = case.values
        body = get(client, data, f"/api/v1/nps?{query}", 422)
        assert (body["error"], body["field"]) == ("invalid", field), case.id
        assert body["reason"], case.id


def test_reports_need_an_api_key(client: FlaskClient, data: dict[str, Any]) -> None:
    for url in ("/api/v1/nps", "/api/v1/nps/trend", "/api/v1/responses", "/api/v1/themes"):
        r = client.get(url)
        assert r.status_code == 401
        assert r.json["error"] == "unauthorized"  # type: ignore[index]


def test_a_report_reads_in_the_key_checks_transaction_and_records_its_last_use(
    client: FlaskClient, rt: Runtime, clock: Clock
) -> None:
    with rt.db.session() as s:
        headers = {"Authorization": f"Bearer {create_key(s, 'dashboard-sync', clock.now)}"}
    clock.advance(seconds=90)
    assert client.get("/api/v1/nps", headers=headers).status_code == 200
    with rt.db.session() as s:
        used = s.scalar(select(ApiKey.last_used_at).where(ApiKey.name == "dashboard-sync"))
        assert used == clock.now, "the refresh is committed with the report"
        revoke_key(s, "dashboard-sync", clock.now)
    r = client.get("/api/v1/nps", headers=headers)
    assert r.status_code == 401, "a revoked key reads nothing"


def test_trend_gives_each_week_with_a_margin_and_the_significance_of_the_last_change(
    client: FlaskClient, data: dict[str, Any]
) -> None:
    body = get(client, data, "/api/v1/nps/trend?interval=week")
    points = body["points"]
    assert [p["period"] for p in points] == ["2026-11-02", "2026-11-09"]
    before, after = nps(WEEK0), nps(WEEK1)
    assert points[0]["nps"] == round(before.score, 1)
    assert points[1]["margin_of_error"] == round(after.margin_of_error, 1)
    cmp = compare_nps(before, after)
    assert body["change"]["change"] == round(cmp.change, 1)
    assert body["change"]["significant"] is cmp.significant is True


def test_daily_trend_fills_days_without_answers_with_null(
    client: FlaskClient, data: dict[str, Any]
) -> None:
    points = get(client, data, "/api/v1/nps/trend?interval=day")["points"]
    assert points[0]["period"] == "2026-11-02"
    assert len(points) == 8  # Nov 2 … Nov 9 (week 1's answers fall on Nov 9)
    assert points[3]["nps"] is None and points[3]["responses"] == 0


def test_monthly_trend_and_a_bad_interval(client: FlaskClient, data: dict[str, Any]) -> None:
    body = get(client, data, "/api/v1/nps/trend?interval=month")
    assert [p["period"] for p in body["points"]] == ["2026-11-01"]
    assert body["change"] is None
    assert get(client, data, "/api/v1/nps/trend?interval=year", 422)["field"] == "interval"


def test_breakdown_by_channel_and_by_store(client: FlaskClient, data: dict[str, Any]) -> None:
    groups = get(client, data, "/api/v1/nps/breakdown?by=channel")["groups"]
    assert {g["value"]: g["nps"] for g in groups} == {
        "sms": round(nps(WEEK0).score, 1),
        "whatsapp": round(nps(WEEK1).score, 1),
    }
    groups = get(client, data, "/api/v1/nps/breakdown?by=store")["groups"]
    assert {g["value"]: g["responses"] for g in groups} == {"centro": 12, "norte": 12}


def test_responses_are_paginated_newest_first_with_a_cursor(
    client: FlaskClient, data: dict[str, Any]
) -> None:
    seen: list[int] = []
    url = "/api/v1/responses?limit=5"
    pages = 0
    while url:
        body = get(client, data, url)
        seen += [r["id"] for r in body["items"]]
        pages += 1
        url = (
            f"/api/v1/responses?limit=5&cursor={body['next_cursor']}" if body["next_cursor"] else ""
        )
    assert pages == 5 and len(seen) == len(set(seen)) == 24
    first = get(client, data, "/api/v1/responses?limit=1")["items"][0]
    assert first["scored_at"].startswith("2026-11-09T23:00")
    assert first["metadata"] == {"store": "norte"} and first["channel"] == "whatsapp"
    assert set(first) >= {"score", "category", "comment", "themes", "sentiment", "order_id", "case"}


def test_responses_filter_by_category_and_comment(
    client: FlaskClient, data: dict[str, Any]
) -> None:
    body = get(client, data, "/api/v1/responses?category=promoter&has_comment=true&limit=100")
    assert body["items"] and all(
        r["category"] == "promoter" and r["comment"] for r in body["items"]
    )
    assert get(client, data, "/api/v1/responses?cursor=zzz", 422)["field"] == "cursor"
    assert get(client, data, "/api/v1/responses?limit=0", 422)["field"] == "limit"


def test_themes_count_by_category_with_nps_among_those_mentioning(
    client: FlaskClient, data: dict[str, Any]
) -> None:
    body = get(client, data, "/api/v1/themes")
    by = {t["theme"]: t for t in body["themes"]}
    delivery = nps(WEEK0)
    assert by["delivery"]["mentions"] == 12
    assert by["delivery"]["detractors"] == delivery.detractors
    assert by["delivery"]["nps"] == round(delivery.score, 1)
    staff = [s for s in WEEK1 if s >= 9]
    assert by["staff"]["promoters"] == len(staff) and by["staff"]["nps"] == 100.0

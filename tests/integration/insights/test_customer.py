"""The customer page's query: one customer's channels with their state now, the consent per
channel with its history (opt-outs and opt-ins included), every invitation and answer across
channels newest first, and the customer's cases."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.insights import customer
from bot.runtime import Runtime
from bot.storage.models import (
    Case,
    Consent,
    Contact,
    ContactChannel,
    Invitation,
    InvitationState,
    Response,
    Survey,
)
from tests.conftest import Clock


def make_customer(rt: Runtime, clock: Clock) -> int:
    now = clock()
    day = timedelta(days=1)
    with rt.db.session() as s:
        survey = s.scalar(select(Survey).order_by(Survey.id))
        assert survey is not None
        other = Contact(name="Someone else", language="es", created_at=now)
        c = Contact(name="María", language="pt", timezone="America/Sao_Paulo", created_at=now)
        s.add_all([c, other])
        s.flush()
        s.add_all(
            [
                ContactChannel(contact_id=c.id, channel="sms", address="+5215512345678"),
                ContactChannel(
                    contact_id=c.id,
                    channel="whatsapp",
                    address="whatsapp:+5215512345678",
                    opted_out_at=now - 2 * day,
                ),
            ]
        )

        def consent(channel: str, given: bool, method: str, source: str | None, at: int) -> None:
            s.add(
                Consent(
                    contact_id=c.id,
                    channel=channel,
                    given=given,
                    method=method,
                    source=source,
                    at=now - at * day,
                )
            )

        consent("whatsapp", True, "api", "checkout form", 30)
        consent("whatsapp", False, "keyword", "BAJA", 2)
        consent("telegram", True, "start", "/start", 3)

        def invite(at: int, channel: str, state: str, **kw: object) -> Invitation:
            inv = Invitation(
                survey_id=survey.id,
                contact_id=c.id,
                state=state,
                language="pt",
                channels=[channel],
                channel=channel,
                due_at=now - at * day,
                sent_at=now - at * day,
                created_at=now - at * day,
                **kw,
            )
            s.add(inv)
            s.flush()
            return inv

        old = invite(10, "whatsapp", InvitationState.COMPLETED)
        invite(6, "sms", InvitationState.EXPIRED, expires_at=now - 3 * day)
        new = invite(1, "sms", InvitationState.COMPLETED)
        for inv, score, comment, themes, at in (
            (old, 8, "Bom", [], 9),
            (new, 2, "Demorou demais", ["delivery"], 1),
        ):
            r = Response(
                invitation_id=inv.id,
                survey_id=survey.id,
                contact_id=c.id,
                channel=inv.channel,
                score=score,
                category="detractor" if score <= 6 else "passive",
                comment=comment,
                themes=themes,
                scored_at=now - at * day,
            )
            s.add(r)
            s.flush()
            if score <= 6:
                s.add(
                    Case(
                        response_id=r.id,
                        contact_id=c.id,
                        status="resolved",
                        outcome="refunded",
                        created_at=now - at * day,
                    )
                )
        return c.id


def test_the_customer_across_channels_newest_first(rt: Runtime, clock: Clock) -> None:
    cid = make_customer(rt, clock)
    now = clock()
    with rt.db.session() as s:
        got = customer.customer(s, cid)
    assert got is not None
    assert (got["name"], got["language"], got["timezone"]) == ("María", "pt", "America/Sao_Paulo")
    sms, whatsapp = got["channels"]
    assert sms["channel"] == "sms" and sms["opted_out_at"] is None
    assert whatsapp["opted_out_at"] == now - timedelta(days=2)
    assert "history" not in sms  # the consent's history is the one (below)
    states = [(v["channel"], v["state"]) for v in got["surveys"]]
    assert states == [("sms", "completed"), ("sms", "expired"), ("whatsapp", "completed")]
    newest, expired, oldest = got["surveys"]
    assert newest["response"]["themes"] == ["delivery"] and newest["answered_at"] is not None
    assert expired["response"] is None and expired["expired_at"] == now - timedelta(days=3)
    assert oldest["response"]["score"] == 8
    telegram, wa = got["consent"]
    assert (telegram["channel"], telegram["given"]) == ("telegram", True)
    assert (wa["channel"], wa["given"], wa["at"]) == ("whatsapp", False, now - timedelta(days=2))
    assert [(h["given"], h["method"], h["source"]) for h in wa["history"]] == [
        (False, "keyword", "BAJA"),
        (True, "api", "checkout form"),
    ]
    (case,) = got["cases"]
    assert (case["status"], case["outcome"], case["score"]) == ("resolved", "refunded", 2)


def test_an_unknown_customer_is_none(rt: Runtime, clock: Clock) -> None:
    make_customer(rt, clock)
    with rt.db.session() as s:
        assert customer.customer(s, 987_654) is None

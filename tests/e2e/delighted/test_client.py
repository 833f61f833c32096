"""A Delighted user's integration, unchanged: the official `delighted` client creates people
with a delay, lists and filters responses, reads metrics, unsubscribes and deletes a person,
against npsbot's `/delighted/v1/`. SQLite only: the client adds nothing per database (the
storage paths run on both in tests/integration/delighted/)."""

from __future__ import annotations

from datetime import timedelta
from types import ModuleType

import pytest
from delighted.errors import AuthenticationError, GeneralAPIError, ResourceValidationError
from sqlalchemy import select

from bot.runtime import Runtime
from bot.storage.models import AuditEvent, Contact, Invitation
from tests.conftest import Clock

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
ANA = "+525512345678"


def test_a_person_with_a_delay_gets_a_survey_then_and_one_with_only_an_email_is_skipped(
    client: ModuleType, rt: Runtime, clock: Clock
) -> None:
    ana = client.Person.create(
        phone_number=ANA,
        name="Ana",
        channel="sms",
        delay=3600,
        properties={"locale": "pt-BR", "Store": "Polanco"},
    )
    # 15:00 UTC is 09:00 in Mexico City: an hour later is inside Ana's day.
    assert ana.survey_scheduled_at == int((clock() + timedelta(hours=1)).timestamp())
    assert ana.phone_number == ANA and ana.name == "Ana"
    with rt.db.session() as s:
        inv = s.scalars(select(Invitation)).one()
        assert inv.channels == ["sms"] and inv.meta == {"Store": "Polanco", "source": "delighted"}
        assert inv.contact.language == "pt"  # Delighted's special property `locale`

    jo = client.Person.create(email="Jo@Example.com", properties={"Plan": "gold"})
    assert jo.email == "jo@example.com" and jo.survey_scheduled_at is None
    assert jo.survey_request["reason"] == "no_chat_address"  # npsbot surveys in chat
    quiet = client.Person.create(email="quiet@example.com", send=False)
    assert quiet.survey_scheduled_at is None

    listed = client.Person.list(per_page=2).auto_paging_iter()  # follows the Link cursor
    assert [p.id for p in listed] == [ana.id, jo.id, quiet.id]
    found = client.Person.all(email="jo@example.com")
    assert [p.id for p in found] == [jo.id]

    assert client.SurveyRequest.delete_pending(person_email="jo@example.com") == {"ok": True}
    with pytest.raises(ResourceValidationError, match="email or phone_number is required"):
        client.Person.create(name="Nobody")


def test_responses_are_created_listed_filtered_paged_and_measured(
    client: ModuleType, clock: Clock, rt: Runtime
) -> None:
    ana = client.Person.create(phone_number=ANA, name="Ana", send=False)
    day = int(clock().timestamp())
    created = [
        client.SurveyResponse.create(
            person=ana.id, score=score, comment=comment, created_at=day - 86400 * (3 - i)
        )
        for i, (score, comment) in enumerate([(10, "great"), (3, "slow delivery"), (8, None)])
    ]
    assert [r.score for r in created] == [10, 3, 8]

    every = client.SurveyResponse.all(order="desc", expand=["person"])
    assert [r.score for r in every] == [8, 3, 10]
    assert isinstance(every[0].person, client.Person) and every[0].person.name == "Ana"
    window = client.SurveyResponse.all(since=day - 2 * 86400, until=day - 86400)
    assert [r.score for r in window] == [3, 8]
    second_page = client.SurveyResponse.all(per_page=2, page=2)
    assert [r.score for r in second_page] == [8]

    one = client.SurveyResponse.retrieve(created[1].id, expand=["person"])
    assert one.comment == "slow delivery" and one.person.phone_number == ANA
    one.person_properties = {"Store": "Centro"}
    one.tags = ["delivery"]
    saved = one.save()
    assert saved.person_properties == {"Store": "Centro"} and saved.tags == ["delivery"]
    assert saved.score == 3 and saved.save().tags == ["delivery"]  # the same again: no change
    with rt.db.session() as s:
        mine = AuditEvent.action.startswith("delighted.")  # survey edits are audited too
        [audited] = s.scalars(select(AuditEvent).where(mine)).all()
        assert (audited.actor, audited.action) == ("api:crm", "delighted.response.update")
        assert audited.detail == {"fields": ["person_properties", "tags"]}

    m = client.Metrics.retrieve()
    assert (m.nps, m.response_count) == (0, 3)  # one promoter, one passive, one detractor
    assert (m.promoter_count, m.passive_count, m.detractor_count) == (1, 1, 1)
    assert client.Metrics.retrieve(since=day - 2 * 86400).detractor_percent == 50.0


def test_unsubscribe_stops_the_surveys_a_delete_erases_and_a_wrong_key_is_refused(
    client: ModuleType, rt: Runtime, clock: Clock
) -> None:
    ana = client.Person.create(phone_number=ANA, email="ana@example.com", send=False)
    months_ago = int(clock().timestamp()) - 60 * 86400  # outside the resurvey window
    client.SurveyResponse.create(person=ana.id, score=4, comment="Ana, slow", created_at=months_ago)
    assert client.Unsubscribe.create(person_email="ana@example.com") == {"ok": True}
    [gone] = client.Unsubscribe.all()
    assert gone.email == "ana@example.com" and gone.unsubscribed_at is not None
    again = client.Person.create(phone_number=ANA, properties={"Ref": "ana@example.com"})
    assert again.survey_request["reason"] == "opted_out"
    # Unsubscribed with only an e-mail, then given a phone: the opt-out holds.
    client.Person.create(email="jo@example.com", send=False)
    client.Unsubscribe.create(person_email="jo@example.com")
    jo = client.Person.create(email="jo@example.com", phone_number="+525587654321")
    assert jo.survey_request["reason"] == "opted_out"
    assert client.Bounce.all() == []

    other = client.Client(api_key="nps_wrong", api_base_url=client.api_base_url)
    with pytest.raises(AuthenticationError):
        client.Metrics.retrieve(client=other)

    assert client.Person.delete(phone_number=ANA) == {"ok": True}  # an erasure
    with rt.db.session() as s:
        assert s.scalars(select(Contact.email)).all() == ["jo@example.com"]
        metadata = s.scalars(select(Invitation.meta).where(Invitation.contact_id.is_(None)))
        assert all("ana@example.com" not in str(meta) for meta in metadata)  # her e-mail too
    [kept] = client.SurveyResponse.all()
    assert (kept.person, kept.score, kept.comment) == (None, 4, None)  # the score, anonymous
    with pytest.raises(GeneralAPIError, match="404"):
        client.Person.delete(email="ana@example.com")
    with pytest.raises(GeneralAPIError, match='"status":404'):  # Delighted's body
        next(client.AutopilotMembership.forEmail().list().auto_paging_iter())

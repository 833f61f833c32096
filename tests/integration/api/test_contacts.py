"""PUT/GET /api/v1/contacts/{id}: customers known without a purchase — their fields, their own
attributes and their consent per channel, as history — and purchases that meet them."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from bot.runtime import Runtime
from bot.storage.models import AuditEvent, Consent, Contact
from tests.conftest import Clock
from tests.integration.api.conftest import Api

ANA = {
    "name": "Ana Pérez",
    "phone": "55 1234 5678",
    "language": "es",
    "timezone": "America/Mexico_City",
    "attributes": {"segment": "gold", "plan": "anual", "city": "CDMX", "visits": 12},
    "consent": {
        "whatsapp": {"given": True, "source": "checkout form", "at": "2026-11-01T10:00:00Z"}
    },
}


def put(api: Api, contact_id: str, body: Any) -> tuple[int, dict[str, Any]]:
    r = api.client.put(f"/api/v1/contacts/{contact_id}", json=body, headers=api.headers)
    return r.status_code, r.get_json()


def get(api: Api, contact_id: str) -> tuple[int, dict[str, Any]]:
    r = api.client.get(f"/api/v1/contacts/{contact_id}", headers=api.headers)
    return r.status_code, r.get_json()


def test_a_contact_is_created_with_its_attributes_and_consent_then_read_back(api: Api) -> None:
    status, body = put(api, "C-42", ANA)
    assert status == 201
    assert body["id"] == "C-42" and body["phone"] == "+525512345678"  # E.164, DEFAULT_COUNTRY MX
    assert body["attributes"] == {"city": "CDMX", "plan": "anual", "segment": "gold", "visits": 12}
    assert body["consent"] == {
        "whatsapp": {
            "given": True,
            "source": "checkout form",
            "method": "api",
            "at": "2026-11-01T10:00:00Z",
        }
    }
    assert get(api, "C-42") == (200, body)


def test_a_second_put_changes_what_it_names_and_keeps_the_rest(api: Api) -> None:
    put(api, "C-42", ANA)
    status, body = put(
        api, "C-42", {"language": "pt", "attributes": {"plan": None, "segment": "silver"}}
    )
    assert status == 200
    assert (body["name"], body["language"]) == ("Ana Pérez", "pt")
    assert body["attributes"] == {"city": "CDMX", "segment": "silver", "visits": 12}


def test_consent_is_history_appended_only_when_it_changes(
    api: Api, rt: Runtime, clock: Clock
) -> None:
    put(api, "C-42", ANA)
    put(api, "C-42", ANA)  # the same again: nothing new
    put(api, "C-42", {"consent": {"whatsapp": {"given": False, "source": "asked by phone"}}})
    assert get(api, "C-42")[1]["consent"]["whatsapp"]["given"] is False
    body = get(api, "C-42")[1]
    assert body["consent"]["whatsapp"]["at"] == clock().isoformat().replace("+00:00", "Z")
    with rt.db.session() as s:
        history = s.execute(select(Consent.given, Consent.source).order_by(Consent.id)).all()
    assert [tuple(h) for h in history] == [(True, "checkout form"), (False, "asked by phone")]


def test_a_purchase_meets_the_contact_the_api_created(api: Api, rt: Runtime) -> None:
    put(api, "C-42", ANA)
    status, _ = api.purchase(
        order_id="A-1",
        customer={"id": "C-42", "attributes": {"last_store": "Polanco"}},
        metadata={"store": "Polanco"},
    )
    assert status == 201
    with rt.db.session() as s:
        contacts = s.scalars(select(Contact)).all()
    assert len(contacts) == 1 and contacts[0].attributes["last_store"] == "Polanco"
    assert contacts[0].attributes["segment"] == "gold"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"phone": "12"}, "phone", id="bad-phone"),
        pytest.param({"language": "fr"}, "language", id="language"),
        pytest.param({"timezone": "Mars/Base"}, "timezone", id="timezone"),
        pytest.param({"attributes": {"a b": 1}}, "attributes", id="attribute-key"),
        pytest.param({"attributes": {"x": {"y": 1}}}, "attributes.x", id="nested-attribute"),
        pytest.param({"attributes": {"x": "y" * 501}}, "attributes.x", id="long-attribute"),
        pytest.param({"attributes": {f"k{i}": i for i in range(51)}}, "attributes", id="too-many"),
        pytest.param({"consent": {"fax": True}}, "consent.fax", id="unknown-channel"),
        pytest.param({"consent": {"sms": {"given": "yes"}}}, "consent.sms.given", id="given"),
        pytest.param({"consent": {"sms": {"at": "ayer"}}}, "consent.sms.at", id="consent-at"),
        pytest.param({"emial": "a@b.c"}, "emial", id="unknown-field"),
        pytest.param({"id": "C-43"}, "id", id="another-id"),
        pytest.param({"sandbox": "sandbox-abc"}, "sandbox", id="sandbox"),
    ],
)
def test_bad_fields_are_refused_by_name_and_nothing_is_stored(
    api: Api, rt: Runtime, body: dict[str, Any], field: str
) -> None:
    status, answer = put(api, "C-42", body)
    assert (status, answer["field"]) == (422, field), answer
    with rt.db.session() as s:
        assert s.scalar(select(Contact.id)) is None


def test_a_telegram_chat_of_another_contact_is_a_conflict(api: Api) -> None:
    put(api, "C-1", {"telegram_chat_id": "5550001"})
    status, body = put(api, "C-2", {"telegram_chat_id": "5550001"})
    assert (status, body["error"], body["field"]) == (409, "conflict", "telegram_chat_id")


def test_an_unknown_contact_is_404_and_the_api_needs_its_key(api: Api, client: FlaskClient) -> None:
    assert get(api, "nobody")[0] == 404
    assert get(api, "x" * 300)[0] == 404
    assert client.get("/api/v1/contacts/C-42").status_code == 401
    assert client.put("/api/v1/contacts/C-42", json=ANA).status_code == 401


def test_a_body_that_is_not_an_object_is_400(api: Api) -> None:
    r = api.client.put("/api/v1/contacts/C-42", data="[1]", headers=api.headers)
    assert r.status_code == 400


def test_delete_erases_the_contact_once_and_answers_what_was_kept(api: Api, rt: Runtime) -> None:
    put(api, "C-42", ANA)
    purchase = {"order_id": "A-1", "customer": {"id": "C-42"}, "metadata": {"store": "Centro"}}
    assert api.purchase(**purchase)[0] == 201
    r = api.client.delete("/api/v1/contacts/C-42", headers=api.headers)
    assert (r.status_code, r.get_json()) == (
        200,
        {
            "id": "C-42",
            "responses_kept": 0,
            "invitations_cancelled": 1,
            "messages_scrubbed": 0,
            "cases_removed": 0,
            "open_cases": [],
        },
    )
    assert get(api, "C-42")[0] == 404
    again = api.client.delete("/api/v1/contacts/C-42", headers=api.headers)
    assert (again.status_code, again.get_json()["error"]) == (404, "not_found")
    # The order is the business's own reference: a retried purchase is answered as before.
    status, body = api.purchase(**purchase)
    assert (status, body["status"], body["reason"]) == (200, "skipped", "erased")
    with rt.db.session() as s:
        assert s.scalar(select(Consent)) is None  # gone with the contact
        event = s.scalar(select(AuditEvent))
        assert event is not None
        assert (event.actor, event.action) == ("api:shop", "contact.erase")

"""The cases list and the customer page through the web: filters in the query string, a wrong
filter named on the page (4xx), viewers read, es/pt, long comments wrap, unknown customers 404."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

import bot.web
from bot.accounts.users import create_user
from bot.runtime import Runtime
from bot.storage.models import AuditEvent, Case, ContactChannel, StaffRole
from bot.survey.consent import Grant, record
from tests.conftest import Clock
from tests.e2e.web.test_dashboard import PASSWORD, csrf_of, log_in
from tests.integration.insights.seed import Answer, seed

LONG = ("la entrega tardó muchísimo " * 120)[:3000]


@pytest.fixture
def cases(rt: Runtime, clock: Clock) -> dict[str, int]:
    """Four cases: open on SMS (a 3,000-character comment), open on WhatsApp, taken, resolved."""
    with rt.db.session() as s:
        create_user(s, "ana", PASSWORD, clock())
        create_user(s, "luis", PASSWORD, clock(), StaffRole.VIEWER)
    now = clock()
    seed(
        rt,
        [
            Answer(2, now - timedelta(hours=3), channel="sms", comment=LONG, case="open"),
            Answer(5, now - timedelta(hours=1), channel="whatsapp", comment="frío", case="open"),
            Answer(0, now - timedelta(days=2), channel="sms", store="centro", case="taken"),
            Answer(4, now - timedelta(days=4), channel="telegram", case="resolved"),
        ],
    )
    with rt.db.session() as s:
        rows = list(s.scalars(select(Case).order_by(Case.id)))
        rows[2].assignee = "Ana"
        phone = "+5215512345678"
        s.add(ContactChannel(contact_id=rows[0].contact_id, channel="sms", address=phone))
        names = ("long", "whatsapp", "taken", "resolved")
        return {n: c.id for n, c in zip(names, rows, strict=True)} | {
            "customer": rows[0].contact_id
        }


def shown(html: str) -> list[int]:
    return [int(m) for m in re.findall(r'<tr data-case="(\d+)"', html)]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no storage semantics
def test_filters_come_from_the_query_string_so_a_link_can_be_shared(
    client: FlaskClient, cases: dict[str, int]
) -> None:
    assert log_in(client) == 302
    html = client.get("/dashboard/cases").get_data(as_text=True)
    assert shown(html) == [cases["taken"], cases["long"], cases["whatsapp"]]  # oldest first
    assert 'data-status="unresolved" data-count="3"' in html
    assert 'data-status="resolved" data-count="1"' in html
    r = client.get("/dashboard/cases?status=open&channel=sms")
    assert r.status_code == 200 and shown(r.get_data(as_text=True)) == [cases["long"]]
    html = client.get("/dashboard/cases?assignee=nobody&sort=score&dir=asc").get_data(as_text=True)
    assert shown(html) == [cases["long"], cases["whatsapp"]]
    html = client.get("/dashboard/cases?store=centro&status=all").get_data(as_text=True)
    assert shown(html) == [cases["taken"]]
    html = client.get("/dashboard/cases?overdue=yes&score=0-6&age=2h").get_data(as_text=True)
    assert shown(html) == [cases["taken"], cases["long"]]
    # The sort links keep the filters.
    assert "status=open" in client.get("/dashboard/cases?status=open").get_data(as_text=True)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no storage semantics
@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("score=11", "score"),
        ("score=6-2", "score"),
        ("age=soon", "age"),
        ("status=lost", "status"),
        ("sort=name", "sort"),
        ("dir=up", "dir"),
        ("page=0", "page"),
        ("page=%C2%B2", "page"),
        ("overdue=maybe", "overdue"),
        ("channel=%00", "channel"),
        ("store=" + "x" * 300, "store"),
    ],
)
def test_a_bad_filter_shows_the_form_with_the_field_named(
    client: FlaskClient, cases: dict[str, int], query: str, param: str
) -> None:
    log_in(client)
    r = client.get(f"/dashboard/cases?{query}")
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert f'data-param="{param}"' in html and 'id="case-filters"' in html


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no storage semantics
def test_a_viewer_reads_the_list_and_the_customer_page(
    client: FlaskClient, cases: dict[str, int]
) -> None:
    assert log_in(client, "luis") == 302
    r = client.get("/dashboard/cases?status=all")
    assert r.status_code == 200 and len(shown(r.get_data(as_text=True))) == 4
    assert client.get(f"/dashboard/customers/{cases['customer']}").status_code == 200


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no storage semantics
@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("es", ["Sin resolver", "Responsable", "Última actividad", "Tomado"]),
        ("pt", ["Não resolvidos", "Responsável", "Última atividade", "Assumido"]),
    ],
)
def test_the_list_speaks_spanish_and_portuguese(
    client: FlaskClient, rt: Runtime, cases: dict[str, int], lang: str, words: list[str]
) -> None:
    log_in(client, lang=lang)
    html = client.get("/dashboard/cases").get_data(as_text=True)
    for word in words:
        assert word in html
    with rt.db.session() as s:  # the customer's BAJA, shown in the consent history
        grant = Grant("whatsapp", False, "BAJA")
        record(s.connection(), cases["customer"], grant, "keyword", rt.clock())
    page = client.get(f"/dashboard/customers/{cases['customer']}").get_data(as_text=True)
    assert {"es": "Encuestas y respuestas", "pt": "Pesquisas e respostas"}[lang] in page
    consent = page[page.index('<section class="card" id="consent">') :]
    consent = consent[: consent.index("</section>")]
    assert {"es": "Retirado", "pt": "Retirado"}[lang] in consent and "BAJA" in consent
    assert {"es": "palabra clave", "pt": "palavra-chave"}[lang] in consent


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no storage semantics
def test_a_3000_character_comment_wraps_in_the_list_and_on_the_customer_page(
    client: FlaskClient, cases: dict[str, int]
) -> None:
    log_in(client)
    html = client.get("/dashboard/cases?status=open").get_data(as_text=True)
    row = html[html.index(f'<tr data-case="{cases["long"]}"') :]
    row = row[: row.index("</tr>")]
    # The list cuts it short at a word, in the cell that wraps.
    cell = re.search(r'<td class="text">(.*?)</td>', row, re.S)
    assert cell and "la entrega tardó" in cell[1] and "…" in cell[1] and LONG not in cell[1]
    page = client.get(f"/dashboard/customers/{cases['customer']}").get_data(as_text=True)
    assert re.search(r'<td class="text">[^<]*<span class="tag detractor"', page)
    assert LONG in page  # the customer page shows it whole
    css = (Path(bot.web.__file__).parent / "static" / "dashboard.css").read_text()
    assert re.search(r"td\.text[^{]*\{[^}]*overflow-wrap: anywhere", css)


def test_the_customer_page_masks_addresses_and_links_from_the_list(
    app: Flask, client: FlaskClient, cases: dict[str, int]
) -> None:
    log_in(client)
    html = client.get("/dashboard/cases").get_data(as_text=True)
    url = f"/dashboard/customers/{cases['customer']}"
    assert f'href="{url}"' in html
    page = client.get(url).get_data(as_text=True)
    assert "+52•••5678" in page and "5512345678" not in page
    assert f'data-case="{cases["long"]}"' in page and "Customer 0" in page
    if "dashboard.case" not in app.view_functions:  # no page yet: no link to nowhere
        assert f'href="/dashboard/cases/{cases["long"]}"' not in html + page


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no storage semantics
@pytest.mark.parametrize("contact_id", ["987654", str(2**63), str(2**70)])
def test_an_unknown_customer_is_a_clear_404_page(
    client: FlaskClient, cases: dict[str, int], contact_id: str
) -> None:
    log_in(client)
    r = client.get(f"/dashboard/customers/{contact_id}")
    assert r.status_code == 404
    html = r.get_data(as_text=True)
    assert 'id="not-found"' in html and f"There is no customer {contact_id}" in html


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no storage semantics
def test_the_open_cases_box_links_to_the_list(client: FlaskClient, cases: dict[str, int]) -> None:
    log_in(client)
    html = client.get("/dashboard").get_data(as_text=True)
    assert 'href="/dashboard/cases" id="all-cases"' in html


def test_the_pages_need_a_log_in(client: FlaskClient, cases: dict[str, int]) -> None:
    for url in ("/dashboard/cases", f"/dashboard/customers/{cases['customer']}"):
        r = client.get(url)
        assert r.status_code == 302 and "/dashboard/login" in r.headers["Location"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no storage semantics
def test_rows_link_the_case_page_once_it_exists(
    app: Flask, client: FlaskClient, cases: dict[str, int]
) -> None:
    if "dashboard.case" not in app.view_functions:  # the case page is another module's
        app.add_url_rule(
            "/dashboard/cases/<int:case_id>", "dashboard.case", lambda case_id: str(case_id)
        )
    log_in(client)
    url = f"/dashboard/cases/{cases['long']}"
    assert f'href="{url}"' in client.get("/dashboard/cases").get_data(as_text=True)
    page = client.get(f"/dashboard/customers/{cases['customer']}").get_data(as_text=True)
    assert f'href="{url}"' in page


@pytest.mark.parametrize(
    "database_url", ["sqlite"], indirect=True
)  # erasure: tests/integration/privacy
def test_only_an_owner_erases_a_customer_and_only_after_typing_the_word(
    app: Flask, rt: Runtime, clock: Clock, cases: dict[str, int]
) -> None:
    url = f"/dashboard/customers/{cases['customer']}"
    with rt.db.session() as s:
        create_user(s, "marta", PASSWORD, clock(), StaffRole.AGENT)
    for user in ("luis", "marta"):  # a viewer, an agent
        other = app.test_client()
        assert log_in(other, user) == 302
        html = other.get(url).get_data(as_text=True)
        assert "Erase this customer" not in html
        r = other.post(f"{url}/erase", data={"csrf": csrf_of(html), "confirm": "ERASE"})
        assert r.status_code == 403
    owner = app.test_client()
    assert log_in(owner, "ana") == 302
    token = csrf_of(owner.get(url).get_data(as_text=True))
    assert owner.post(f"{url}/erase", data={"csrf": token, "confirm": "yes"}).status_code == 400
    assert owner.post(f"{url}/erase", data={"csrf": "x", "confirm": "ERASE"}).status_code == 400
    r = owner.post(f"{url}/erase", data={"csrf": token, "confirm": "erase"}, follow_redirects=True)
    assert r.request.path == "/dashboard/cases"
    assert "The customer&#39;s data is erased: 1 score(s) kept without a name" in r.get_data(
        as_text=True
    )
    assert owner.get(url).status_code == 404
    with rt.db.session() as s:
        erasure = AuditEvent.action == "contact.erase"  # log-ins are audited too
        event = s.scalar(select(AuditEvent).where(erasure))
        assert event is not None and event.actor == "dashboard:ana"

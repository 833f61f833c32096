"""The case page (`/dashboard/cases/<id>`): the whole conversation with the customer and every
case event, in the reader's language, and acting on the case through the staff chat's
transition table and reply path — the Telegram card edited afterwards. Viewers read, never act;
every form needs the CSRF token."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.accounts.users import create_user
from bot.storage.messages import queue_outbound
from bot.storage.models import Case, CaseEvent, Invitation, StaffRole
from bot.texts import catalog
from bot.web.dashboard.case import EVENT_LABELS, MESSAGE_LABELS
from channels.base import Outbound
from tests.conftest import Clock
from tests.e2e.channels.rows_sms import CUSTOMER
from tests.e2e.staff.world import LUIS, STAFF, World, make_world
from tests.fakes.base import SPECS
from tests.helpers import audit_details, audit_text, audit_trail

pytestmark = pytest.mark.skipif(not SPECS.is_dir(), reason=f"provider specs not found at {SPECS}")

PASSWORD = "correct horse battery"


@pytest.fixture
def world(database_url: str, clock: Clock, tmp_path: Path) -> Iterator[World]:
    yield from make_world(database_url, clock, tmp_path)


def log_in(world: World, name: str = "ana", lang: str = "en") -> str:
    """Log in as `name` (created as an agent, or `luis` as a viewer); the CSRF token."""
    role = StaffRole.VIEWER if name == "luis" else StaffRole.AGENT
    with world.rt.db.session() as s:
        create_user(s, name, PASSWORD, world.clock(), role)
    client = world.client
    token = csrf(client.get("/dashboard/login").get_data(as_text=True))
    client.post("/dashboard/language", data={"csrf": token, "lang": lang})
    form = {"csrf": token, "username": name, "password": PASSWORD}
    assert client.post("/dashboard/login", data=form).status_code == 302
    return csrf(client.get("/dashboard").get_data(as_text=True))


def csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF token in the page"
    return m.group(1)


def question_asked(world: World, kind: str) -> None:
    """The survey's question (or its reminder) as the dispatcher records it."""
    with world.rt.db.session() as s:
        inv = s.scalar(select(Invitation).order_by(Invitation.id.desc()))
        assert inv is not None
        out = Outbound(channel="whatsapp", to=CUSTOMER, text=f"{kind}: ¿del 0 al 10?")
        row = queue_outbound(
            s, out, contact_id=inv.contact_id, invitation_id=inv.id, kind=kind, now=world.clock()
        )
        row.status, row.provider_id = "delivered", f"SMq{kind}"


def detractor(world: World) -> int:
    world.purchase(store="Centro", product="Licuadora")
    question_asked(world, "question")
    world.clock.advance(hours=1)
    question_asked(world, "reminder")
    world.customer_says("3")
    world.customer_says("Llegó roto y nadie me responde")
    world.tick()
    return world.case().id


def post(world: World, case_id: int, action: str, token: str, **form: str) -> tuple[int, str]:
    r = world.client.post(f"/dashboard/cases/{case_id}/{action}", data={"csrf": token, **form})
    return r.status_code, r.get_data(as_text=True)


def test_the_page_tells_the_whole_story_in_each_language(world: World) -> None:
    case_id = detractor(world)
    world.clock.advance(minutes=31)
    world.tick()  # nobody took it: escalated
    world.tap(LUIS, world.card(), "Take it")
    world.tick()
    token = log_in(world)
    assert post(world, case_id, "reassign", token, to="dashboard:1")[0] == 302
    assert post(world, case_id, "note", token, note="Prefiere que la llamen")[0] == 302
    assert post(world, case_id, "reply", token, text="Hola Ana, ¿te llamamos hoy?")[0] == 302
    world.tick()
    world.customer_says("Sí, a las 5")
    world.staff_replies(LUIS, world.card(), "Perfecto, a las 5")
    world.tick()
    data = {"outcome": "other", "note": "Le regalamos un cupón"}
    assert post(world, case_id, "resolve", token, **data)[0] == 302
    assert post(world, case_id, "reply", token, text="¿Algo más?")[0] == 409  # resolved
    assert post(world, case_id, "reopen", token)[0] == 302
    assert post(world, case_id, "resolve", token, outcome="refunded")[0] == 302
    assert post(world, case_id, "outcome", token, outcome="replaced")[0] == 302
    world.tick()

    # Every action once in the audit trail, whichever way it came; never what anyone wrote.
    case, luis, ana = f"case:{case_id}", f"telegram:{LUIS['id']}", "dashboard:ana"
    chat, web = "chat:telegram", "127.0.0.1"
    assert audit_trail(world.rt) == [
        (luis, "case.take", case, chat),
        (ana, "auth.login", "user:ana", web),
        (ana, "case.reassign", case, web),
        (ana, "case.note", case, web),
        (ana, "case.reply", case, web),
        (luis, "case.reply", case, chat),
        (ana, "case.resolve", case, web),
        (ana, "case.reopen", case, web),
        (ana, "case.resolve", case, web),
        (ana, "case.outcome", case, web),
    ]
    details = audit_details(world.rt)
    assert details[2] == {"assignee": "ana"} and details[3] == {}
    assert (details[6], details[8], details[9]) == (
        {"outcome": "other"},
        {"outcome": "refunded"},
        {"outcome": "replaced"},
    )
    held = audit_text(world.rt)
    for written in ("Prefiere", "¿te llamamos", "Perfecto, a las 5", "cupón", "¿Algo más?"):
        assert written not in held

    kinds = set(EVENT_LABELS) | set(MESSAGE_LABELS) - {"staff_template", "promoter_link"}
    for lang in ("en", "es", "pt"):
        world.client.post("/dashboard/language", data={"csrf": token, "lang": lang})
        html = world.client.get(f"/dashboard/cases/{case_id}").get_data(as_text=True)
        shown = set(re.findall(r'data-kind="(\w+)"', html))
        assert kinds - shown == set(), f"{lang}: no entry for {sorted(kinds - shown)}"
        words = catalog(lang, "web*.po").gettext
        for label in [*EVENT_LABELS.values(), *MESSAGE_LABELS.values()]:
            if label not in ("Follow-up template", "Review link"):
                assert words(label) in html, (lang, label)
        for seen in (
            "Llegó roto y nadie me responde",
            "Hola Ana, ¿te llamamos hoy?",
            "Sí, a las 5",
            "Perfecto, a las 5",
            "Prefiere que la llamen",
            "Le regalamos un cupón",
            "Luis Pérez",
            "+52•••5678",
            "Licuadora",
        ):
            assert seen in html, (lang, seen)
        assert CUSTOMER not in html  # masked
        for outcome in ("Other", "Refunded", "Replaced"):
            assert words(outcome) in html


def timeline(html: str) -> list[str]:
    """The timeline's entries, as data-kind values, in the page's order."""
    return re.findall(r'<li class="tl (?:in|out|event)" data-kind="(\w+)"', html)


def test_a_reply_from_the_page_reaches_the_customer_and_edits_the_card(world: World) -> None:
    case_id = detractor(world)
    token = log_in(world)
    seen = len(world.telegram.requests)
    sent_before = len(world.whatsapp_sent())
    world.clock.advance(minutes=5)
    assert post(world, case_id, "reply", token, text="Hola Ana, lo sentimos")[0] == 302
    assert world.telegram.requests[seen:] == [], "no provider call from inside the request"
    world.tick()
    assert world.whatsapp_sent()[sent_before:] == ["Hola Ana, lo sentimos"]
    edits = [f["text"] for m, f in world.sent_to(STAFF, seen) if m == "editMessageText"]
    assert edits and "Taken by ana" in edits[-1] and "Answered by ana" in edits[-1]

    world.clock.advance(minutes=5)
    world.customer_says("Gracias, espero")
    html = world.client.get(f"/dashboard/cases/{case_id}").get_data(as_text=True)
    assert timeline(html)[-3:] == ["staff_reply", "taken", "text"]
    assert "Gracias, espero" in html
    with world.rt.db.session() as s:
        kinds = s.scalars(
            select(CaseEvent.kind).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
        )
        assert list(kinds)[-3:] == ["staff_reply", "taken", "customer_reply"]


def test_resolving_with_other_needs_a_note_and_the_page_says_so(world: World) -> None:
    case_id = detractor(world)
    token = log_in(world, lang="es")
    status, html = post(world, case_id, "resolve", token, outcome="other", note=" ")
    assert status == 400
    assert "necesita una nota" in html and 'id="case-error"' in html
    status, html = post(world, case_id, "reply", token, text="")
    assert status == 422 and "Escribe la respuesta" in html
    with world.rt.db.session() as s:
        assert s.scalar(select(Case.status).where(Case.id == case_id)) == "open"


def test_the_reply_form_says_what_whatsapps_window_allows(world: World) -> None:
    case_id = detractor(world)
    log_in(world)
    html = world.client.get(f"/dashboard/cases/{case_id}").get_data(as_text=True)
    until = (world.clock() + timedelta(hours=24)).strftime("%Y-%m-%d %H:%M")
    assert f"WhatsApp takes free-text replies until {until} UTC." in html
    world.clock.advance(hours=25)
    html = world.client.get(f"/dashboard/cases/{case_id}").get_data(as_text=True)
    assert "a reply cannot reach the customer until they write again" in html


def test_a_viewer_reads_the_case_but_sees_no_forms_and_cannot_act(world: World) -> None:
    case_id = detractor(world)
    token = log_in(world, "luis")
    html = world.client.get(f"/dashboard/cases/{case_id}").get_data(as_text=True)
    assert "Llegó roto" in html and "<form" not in html.split('id="case"', 1)[1].replace(
        'action="/dashboard/logout"', ""
    )
    for action, form in [("take", {}), ("reply", {"text": "hola"}), ("note", {"note": "x"})]:
        status, body = post(world, case_id, action, token, **form)
        assert status == 403 and "Viewers cannot act on cases." in body
    assert world.case().status == "open"
    assert world.events() == ["queued", "alerted"]


def test_every_form_needs_the_csrf_token(world: World) -> None:
    case_id = detractor(world)
    log_in(world)
    for action in ("take", "reply", "note", "reassign", "resolve"):
        r = world.client.post(f"/dashboard/cases/{case_id}/{action}", data={"csrf": "forged"})
        assert r.status_code == 400
    assert world.case().status == "open"


def test_a_missing_case_is_a_404_page(world: World) -> None:
    log_in(world)
    r = world.client.get("/dashboard/cases/999")
    assert r.status_code == 404 and "No case 999." in r.get_data(as_text=True)

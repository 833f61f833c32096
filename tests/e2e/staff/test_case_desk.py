"""One case workflow wherever staff act: a case taken or resolved on the dashboard or with
`npsbot cases take|resolve|reopen` records the same events as the staff chat's buttons, and the
Telegram card is edited afterwards by the outbox (never from inside the transaction)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.accounts.users import create_user
from bot.cli import main
from bot.storage.models import utcnow
from tests.conftest import Clock
from tests.e2e.staff.world import LUIS, STAFF, World, make_world
from tests.fakes.base import SPECS
from tests.helpers import audit_details, audit_trail

pytestmark = pytest.mark.skipif(not SPECS.is_dir(), reason=f"provider specs not found at {SPECS}")

PASSWORD = "correct horse battery"


@pytest.fixture
def world(database_url: str, clock: Clock, tmp_path: Path) -> Iterator[World]:
    yield from make_world(database_url, clock, tmp_path)


def detractor(world: World) -> None:
    world.purchase(store="Centro")
    world.customer_says("3")
    world.customer_says("Llegó roto")
    world.tick()


def dashboard(world: World) -> str:
    """Log in as Ana; the CSRF token of her dashboard page."""
    with world.rt.db.session() as s:
        create_user(s, "ana", PASSWORD, world.clock())
    page = world.client.get("/dashboard/login").get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    form = {"csrf": token, "username": "ana", "password": PASSWORD}
    assert world.client.post("/dashboard/login", data=form).status_code == 302
    html = world.client.get("/dashboard").get_data(as_text=True)
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def card_edits(world: World, after: int) -> list[str]:
    return [f["text"] for m, f in world.sent_to(STAFF, after) if m == "editMessageText"]


def test_the_dashboard_takes_and_resolves_through_the_case_workflow(world: World) -> None:
    detractor(world)
    token = dashboard(world)
    case_id = world.case().id
    seen = len(world.telegram.requests)

    world.clock.advance(minutes=4)
    r = world.client.post(f"/dashboard/cases/{case_id}/take", data={"csrf": token})
    assert r.status_code == 302
    assert world.telegram.requests[seen:] == [], "no provider call from inside the request"
    world.tick()
    (edit,) = card_edits(world, seen)
    assert "Taken by ana · 4 min to take" in edit

    seen = len(world.telegram.requests)
    data = {"csrf": token, "outcome": "replaced"}
    assert world.client.post(f"/dashboard/cases/{case_id}/resolve", data=data).status_code == 302
    world.tick()
    (edit,) = card_edits(world, seen)
    assert "Resolved by ana · 📦 Replaced" in edit
    case = world.case()
    assert (case.status, case.assignee, case.outcome) == ("resolved", "ana", "replaced")
    assert case.assignee_id is not None and case.assignee_id.startswith("dashboard:")
    assert world.events() == ["queued", "alerted", "taken", "resolved"]


def test_npsbot_cases_take_resolve_and_reopen(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    detractor(world)
    monkeypatch.setenv("DATABASE_URL", world.rt.settings.database_url)
    monkeypatch.setenv("SECRET_KEY", world.rt.settings.secret_key)  # the cards' buttons
    case_id = str(world.case().id)
    cli = CliRunner()

    result = cli.invoke(main, ["cases", "take", case_id, "--as", "Luis"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"#{case_id} taken · Luis"
    result = cli.invoke(main, ["cases", "take", case_id, "--as", "Marta"])
    assert result.exit_code == 1 and "cannot take a taken case" in result.output

    result = cli.invoke(main, ["cases", "resolve", case_id, "--as", "Marta", "--outcome", "nope"])
    assert result.exit_code == 2  # not one of the outcomes
    result = cli.invoke(
        main, ["cases", "resolve", case_id, "--as", "Marta", "--outcome", "called_back"]
    )
    assert result.output.strip() == f"#{case_id} resolved · Luis · called_back"
    assert cli.invoke(main, ["cases"]).output.strip() == "no open cases"

    result = cli.invoke(main, ["cases", "reopen", case_id, "--as", "Marta"])
    assert result.output.strip() == f"#{case_id} taken · Luis"
    assert world.events() == ["queued", "alerted", "taken", "resolved", "reopened"]
    case = f"case:{case_id}"  # the refused take and the bad outcome left no row
    assert audit_trail(world.rt) == [
        ("cli", "case.take", case, "cli"),
        ("cli", "case.resolve", case, "cli"),
        ("cli", "case.reopen", case, "cli"),
    ]
    assert audit_details(world.rt)[:2] == [{"assignee": "Luis"}, {"outcome": "called_back"}]
    seen = len(world.telegram.requests)
    world.clock.now = max(world.clock.now, utcnow())  # the CLI queued its edits on the wall clock
    world.tick()
    edits = card_edits(world, 0)
    assert len(edits) == 3 and "Taken by Luis" in edits[-1]
    assert [m for m, _ in world.sent_to(STAFF, seen)] == ["editMessageText"] * 3

    world.tap(LUIS, world.card(), "Resolved")  # the chat's buttons: the same table
    world.tick()
    assert world.case().status == "resolved"
    assert world.events()[-1] == "resolved"

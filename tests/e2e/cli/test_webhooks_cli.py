"""`npsbot webhooks …`: subscribe, list, rotate, disable, read the log and replay from a shell;
each change is an audit row of the "cli"; a refusal is one line naming the problem."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from bot.cli import main
from bot.runtime import Runtime
from bot.storage.hooks import emit
from bot.storage.models import AuditEvent


@pytest.fixture
def cli(rt: Runtime, database_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SECRET_KEY", "x" * 32)
    return CliRunner()


def test_add_list_rotate_disable_deliveries_replay_remove(cli: CliRunner, rt: Runtime) -> None:
    args = ["webhooks", "add", "https://shop.example/npsbot", "--event", "case.opened"]
    added = cli.invoke(main, args)
    assert added.exit_code == 0, added.output
    line, secret = added.output.splitlines()
    assert line == "webhook 1: https://shop.example/npsbot (case.opened)"
    assert secret.startswith("whsec_")
    (listed,) = map(json.loads, cli.invoke(main, ["webhooks", "list"]).output.splitlines())
    assert listed["events"] == ["case.opened"] and "secret" not in listed

    rotated = cli.invoke(main, ["webhooks", "rotate", "1", "--overlap-hours", "2"]).output.strip()
    assert rotated.startswith("whsec_") and rotated != secret
    assert cli.invoke(main, ["webhooks", "disable", "1"]).exit_code == 0
    with rt.db.session_for_update() as s:  # a disabled endpoint's events are not even written
        assert emit(s, at=rt.clock(), kind="case.opened", data={"case_id": 1}) is None
    assert cli.invoke(main, ["webhooks", "enable", "1"]).exit_code == 0
    with rt.db.session_for_update() as s:
        event_id = emit(s, at=rt.clock(), kind="case.opened", data={"case_id": 1})
    (d,) = map(json.loads, cli.invoke(main, ["webhooks", "deliveries", "1"]).output.splitlines())
    assert (d["event_id"], d["state"], d["attempts"]) == (event_id, "pending", 0)
    replayed = cli.invoke(main, ["webhooks", "replay", "1", "--delivery", str(d["id"])])
    assert replayed.output == "1 deliveries queued again\n"

    bad = cli.invoke(main, ["webhooks", "add", "ftp://x", "--event", "case.opened"])
    assert bad.exit_code == 1 and "url: an http(s) URL" in bad.output
    assert cli.invoke(main, ["webhooks", "remove", "1"]).exit_code == 0
    gone = cli.invoke(main, ["webhooks", "remove", "1"])
    assert gone.exit_code == 1 and "no webhook 1" in gone.output
    with rt.db.session() as s:
        actions = list(s.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions == [
        "webhook.create",
        "webhook.rotate",
        "webhook.disable",
        "webhook.enable",
        "webhook.replay",
        "webhook.remove",
    ]

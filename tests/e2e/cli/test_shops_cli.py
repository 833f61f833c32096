"""`npsbot shops add|list|remove`: the URL to paste and the next steps, never the secret in a
listing, refusals in one line, and an audit row per change."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from bot.cli import main
from bot.runtime import Runtime
from bot.storage.models import AuditEvent, Shop


@pytest.fixture
def cli(rt: Runtime, database_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SECRET_KEY", "x" * 32)
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://nps.example.com")
    return CliRunner()


def test_add_list_remove_a_shop(cli: CliRunner, rt: Runtime) -> None:
    secret = "shpss_" + "7" * 32
    added = cli.invoke(main, ["shops", "add", "acme", "--platform", "shopify"], input=f"{secret}\n")
    assert added.exit_code == 0, added.output
    assert "https://nps.example.com/integrations/shopify/acme\n" in added.output
    assert "orders/fulfilled" in added.output and secret not in added.output
    paid = ["--topic", "orders/fulfilled", "--topic", "orders/paid", "--secret", secret]
    again = cli.invoke(main, ["shops", "add", "acme", "--platform", "shopify", *paid])
    assert again.exit_code == 1 and "a shop 'acme' exists" in again.output

    listed = cli.invoke(main, ["shops", "list"])
    assert listed.output == (
        "acme\tshopify\t(first survey)\torders/fulfilled\t/integrations/shopify/acme\tdatabase\n"
    )
    assert secret not in listed.output

    removed = cli.invoke(main, ["shops", "remove", "acme"])
    assert removed.exit_code == 0, removed.output
    assert cli.invoke(main, ["shops", "list"]).output == ""
    with rt.db.session() as s:
        assert s.scalar(select(Shop)) is None
        rows = [(a.actor, a.action, a.target, a.source) for a in s.scalars(select(AuditEvent))]
    assert rows == [
        ("cli", "shop.add", "shop:acme", "cli"),
        ("cli", "shop.remove", "shop:acme", "cli"),
    ]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--platform", "tiendanube"], "needs the store id and its access token"),
        (["--platform", "shopify", "--topic", "orders/create"], "not 'orders/create'"),
        (["--platform", "woocommerce", "--survey", "nope"], "no survey 'nope'"),
    ],
)
def test_a_shop_that_could_not_work_is_refused(
    args: list[str],
    says: str,
    tmp_path: Path,
    sqlite_template: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Refusals store nothing: SQLite only.
    shutil.copy(sqlite_template, tmp_path / "npsbot.db")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'npsbot.db'}")
    monkeypatch.setenv("SECRET_KEY", "x" * 32)
    out = CliRunner().invoke(main, ["shops", "add", "shop-1", *args, "--secret", "s" * 16])
    assert out.exit_code == 1 and says in out.output, out.output

"""`npsbot apikey list|revoke` and `npsbot user disable|enable` from the terminal: the same
rules as the team page, a line on success, one line naming the problem and exit code 1 when
refused."""

from __future__ import annotations

import pytest
from click.testing import CliRunner, Result

from bot.cli import main
from bot.runtime import Runtime
from tests.e2e.web.test_dashboard import PASSWORD


@pytest.fixture
def npsbot(rt: Runtime, database_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SECRET_KEY", "x" * 32)
    return CliRunner()


def run(cli: CliRunner, *args: str) -> Result:
    return cli.invoke(main, list(args))


def refused(result: Result, text: str) -> bool:
    return result.exit_code == 1 and result.output == f"Error: {text}\n"


def test_apikey_list_shows_each_key_and_never_the_key(npsbot: CliRunner) -> None:
    assert run(npsbot, "apikey", "list").output == "no API keys yet: npsbot apikey create NAME\n"
    shop = run(npsbot, "apikey", "create", "shop").output.strip()
    run(npsbot, "apikey", "create", "erp")
    assert run(npsbot, "apikey", "revoke", "shop").output == "revoked shop\n"
    listing = run(npsbot, "apikey", "list")
    lines = [line.split("\t") for line in listing.output.splitlines()]
    assert listing.exit_code == 0 and shop not in listing.output
    assert lines[0] == ["name", "prefix", "created", "last used", "revoked"]
    assert [(row[0], row[3]) for row in lines[1:]] == [("erp", "never"), ("shop", "never")]
    assert lines[2][1] == shop[:12] + "…" and lines[1][4] == "-" and lines[2][4] != "-"
    assert refused(run(npsbot, "apikey", "revoke", "shop"), "no active key named 'shop'")


def test_user_disable_and_enable_keep_an_owner(npsbot: CliRunner) -> None:
    for name in ("ana", "rita"):
        assert run(npsbot, "user", "create", name, "--password", PASSWORD).exit_code == 0
    assert refused(
        run(npsbot, "user", "disable", "ana"),
        "ana is the only owner: make someone else owner first",
    )
    done = run(npsbot, "user", "disable", "rita")
    assert done.output == "rita is disabled: their dashboard sessions have ended\n"
    assert "rita\tagent\tlast log-in never\tdisabled" in run(npsbot, "user", "list").output
    assert run(npsbot, "user", "enable", "rita").output == "rita may log in again\n"
    assert "disabled" not in run(npsbot, "user", "list").output
    assert refused(run(npsbot, "user", "disable", "eva"), "no user named 'eva'")

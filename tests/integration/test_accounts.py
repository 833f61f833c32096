"""Staff accounts and API keys: one rule each for passwords, disabled users, key names, and the
team that always keeps an active owner (the rules `npsbot user` and the team page share)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from bot.accounts import apikeys, users
from bot.accounts.errors import AccountError
from bot.runtime import Runtime
from bot.storage.models import StaffRole

NOW = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)


def test_a_short_password_is_refused_when_creating_and_when_changing(rt: Runtime) -> None:
    with rt.db.session() as s:
        with pytest.raises(users.UserError, match="at least 10"):
            users.create_user(s, "ana", "short", NOW)
        users.create_user(s, "ana", "long enough password", NOW)
        with pytest.raises(users.UserError, match="at least 10"):
            users.set_password(s, "ana", "short")


def test_a_disabled_user_neither_logs_in_nor_stays_logged_in(rt: Runtime) -> None:
    with rt.db.session() as s:
        user = users.create_user(s, "ana", "long enough password", NOW)
        assert users.authenticate(s, "ana", "long enough password", NOW) is user
        assert users.active_user(s, user.id) is user
        user.disabled_at = NOW
        assert users.authenticate(s, "ana", "long enough password", NOW) is None
        assert users.active_user(s, user.id) is None
        assert users.active_user(s, user.id + 1) is None


def test_a_key_name_fits_its_column(rt: Runtime) -> None:
    with rt.db.session() as s:
        with pytest.raises(apikeys.ApiKeyError, match="1-100"):
            apikeys.create_key(s, "x" * 101, NOW)
        key = apikeys.create_key(s, "x" * 100, NOW)
        assert apikeys.check_key(s, key) is not None
        apikeys.revoke_key(s, "x" * 100, NOW)
        assert apikeys.check_key(s, key) is None


# --- the team: roles, disabling, keys (the rules the dashboard and the CLI share) ---------------
PASSWORD = "long enough password"


def team(rt: Runtime, *people: tuple[str, StaffRole]) -> None:
    with rt.db.session_for_update() as s:
        for name, role in people:
            users.create_user(s, name, PASSWORD, NOW, role)


def refusal(rt: Runtime, change: Callable[[Session], object]) -> AccountError:
    """The refusal of CHANGE, made in a write transaction of its own."""
    with pytest.raises(AccountError) as refused, rt.db.session_for_update() as s:
        change(s)
    return refused.value


def roles(rt: Runtime) -> dict[str, tuple[str, bool]]:
    with rt.db.session() as s:
        return {u.username: (u.role, u.disabled_at is not None) for u in users.list_users(s)}


def test_the_last_owner_can_be_neither_demoted_nor_disabled(rt: Runtime) -> None:
    team(rt, ("ana", StaffRole.OWNER), ("rita", StaffRole.AGENT))
    for change in (
        lambda s: users.set_role(s, "ana", StaffRole.AGENT),
        lambda s: users.set_disabled(s, "ana", True, NOW),
    ):
        refused = refusal(rt, change)
        assert (refused.code, refused.params) == ("last_owner", {"name": "ana"})
        assert str(refused) == "ana is the only owner: make someone else owner first"
    assert roles(rt)["ana"] == ("owner", False)
    with rt.db.session_for_update() as s:
        users.set_role(s, "rita", StaffRole.OWNER)
    with rt.db.session_for_update() as s:
        users.set_disabled(s, "ana", True, NOW)  # rita owns the place now
    assert roles(rt) == {"ana": ("owner", True), "rita": ("owner", False)}


def test_a_disabled_owner_does_not_count_as_the_other_owner(rt: Runtime) -> None:
    team(rt, ("ana", StaffRole.OWNER), ("rita", StaffRole.OWNER))
    with rt.db.session_for_update() as s:
        users.set_disabled(s, "rita", True, NOW)
    with pytest.raises(users.UserError, match="only owner"), rt.db.session_for_update() as s:
        users.set_role(s, "ana", StaffRole.VIEWER)
    with rt.db.session_for_update() as s:
        users.set_role(s, "rita", StaffRole.AGENT)  # a disabled owner may be demoted: ana stays
    assert roles(rt) == {"ana": ("owner", False), "rita": ("agent", True)}


def test_two_owners_demoting_each_other_at_once_leave_one_owner(rt: Runtime) -> None:
    team(rt, ("ana", StaffRole.OWNER), ("rita", StaffRole.OWNER))
    first_holds, outcome = threading.Event(), {}

    def demote(name: str, hold: bool) -> None:
        try:
            with rt.db.session_for_update() as s:
                users.set_role(s, name, StaffRole.AGENT)
                if hold:  # checked and written, not yet committed: the other must wait
                    first_holds.set()
                    time.sleep(0.5)
            outcome[name] = "demoted"
        except users.UserError as exc:
            outcome[name] = exc.code

    first = threading.Thread(target=demote, args=("ana", True))
    first.start()
    assert first_holds.wait(10)
    second = threading.Thread(target=demote, args=("rita", False))
    second.start()
    first.join(10)
    second.join(10)
    assert outcome == {"ana": "demoted", "rita": "last_owner"}
    assert roles(rt) == {"ana": ("agent", False), "rita": ("owner", False)}


def test_disabling_ends_the_sessions_and_enabling_lets_them_log_in_again(rt: Runtime) -> None:
    team(rt, ("ana", StaffRole.OWNER), ("rita", StaffRole.AGENT))
    with rt.db.session_for_update() as s:
        version = users.record_login(s, users.list_users(s)[1].id, NOW)
        users.set_disabled(s, "rita", True, NOW)
    with rt.db.session() as s:
        rita = users.list_users(s)[1]
        assert rita.session_version == version + 1 and rita.disabled_at is not None
        assert users.authenticate(s, "rita", PASSWORD, NOW) is None
    with rt.db.session_for_update() as s:
        users.set_disabled(s, "rita", False, NOW)
    with rt.db.session() as s:
        assert users.authenticate(s, "rita", PASSWORD, NOW) is not None
    refused = refusal(rt, lambda s: users.set_disabled(s, "eva", True, NOW))
    assert (refused.code, str(refused)) == ("no_user", "no user named 'eva'")


def test_a_role_change_ends_the_sessions_but_the_same_role_changes_nothing(rt: Runtime) -> None:
    team(rt, ("ana", StaffRole.OWNER), ("rita", StaffRole.AGENT))
    with rt.db.session_for_update() as s:
        before = users.set_role(s, "rita", StaffRole.AGENT).session_version
        assert users.set_role(s, "rita", StaffRole.VIEWER).session_version == before + 1
    assert refusal(rt, lambda s: users.set_role(s, "rita", "boss")).code == "role"


def test_a_generated_password_is_long_enough_and_new_each_time() -> None:
    made = {users.new_password() for _ in range(20)}
    assert len(made) == 20 and all(len(p) >= users.MIN_PASSWORD for p in made)


def test_keys_are_listed_active_first_and_a_revoked_key_frees_its_name(rt: Runtime) -> None:
    with rt.db.session_for_update() as s:
        first = apikeys.create_key(s, "shop", NOW)
        apikeys.create_key(s, "erp", NOW)
    assert refusal(rt, lambda s: apikeys.create_key(s, "shop", NOW)).code == "key_taken"
    with rt.db.session_for_update() as s:
        apikeys.revoke_key(s, "shop", NOW)
        second = apikeys.create_key(s, "shop", NOW)
    with rt.db.session() as s:
        listed = [(apikeys.shown_name(k), k.revoked_at is not None) for k in apikeys.list_keys(s)]
        assert listed == [("erp", False), ("shop", False), ("shop", True)]
        assert apikeys.check_key(s, first) is None and apikeys.check_key(s, second) is not None
        assert [k.prefix for k in apikeys.list_keys(s)][1] == second[:12]
    missing = refusal(rt, lambda s: apikeys.revoke_key(s, "pos", NOW))
    assert (missing.code, str(missing)) == ("no_key", "no active key named 'pos'")

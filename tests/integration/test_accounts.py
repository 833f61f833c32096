"""Staff accounts and API keys: one rule each for passwords, disabled users and key names."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.accounts import apikeys, users
from bot.runtime import Runtime

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

"""A change the accounts' rules refuse: an English sentence for the terminal, and a code with
its parameters that the dashboard words in the user's language (`bot.web.dashboard.team`)."""

from __future__ import annotations

from typing import Literal

Code = Literal[
    "username",  # not 2-64 of the allowed characters
    "username_taken",
    "role",  # not one of the roles
    "password",  # too short
    "no_user",
    "last_owner",  # the change would leave nobody able to manage the team
    "locked",  # the log-in throttle
    "key_name",  # empty or too long
    "key_taken",
    "no_key",
]


class AccountError(ValueError):
    def __init__(self, code: Code, message: str, **params: str | int) -> None:
        super().__init__(message)
        self.code, self.params = code, params

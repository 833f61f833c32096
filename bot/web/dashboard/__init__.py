"""`/dashboard`: the staff's workspace. One blueprint (`core.bp`); each module registers its pages
on it: log-in and language, the overview. Shared pieces (sessions, CSRF, roles, the page frame)
are in `core`, the language in `i18n`."""

from bot.web.dashboard import (
    audit,
    case,
    cases_list,
    customer,
    login,
    overview,
    surveys,
    team,
    touchpoints,
    webhooks,
)
from bot.web.dashboard.core import bp

__all__ = [
    "audit",
    "bp",
    "case",
    "cases_list",
    "customer",
    "login",
    "overview",
    "surveys",
    "team",
    "touchpoints",
    "webhooks",
]

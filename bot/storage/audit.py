"""Recording the audit trail: one function every layer calls inside its own transaction, so an
action and its audit row commit (or roll back) together."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.storage.models import AuditEvent

# The audit never holds what customers or staff wrote (issue 20): these keys are refused.
TEXT_KEYS = frozenset({"text", "comment", "body", "message", "reply", "note", "payload"})
CLI = "cli"  # the actor and the source of a command's action


@dataclass(frozen=True)
class By:
    """Who acts, as the audit names them ("dashboard:<user>", "api:<key>", "cli",
    "telegram:<user id>"), and from where (the client's address, "cli", "chat:<channel>")."""

    actor: str
    source: str | None = None


BY_CLI = By(CLI, CLI)


def record(
    s: Session,
    *,
    at: datetime,
    actor: str,
    action: str,
    target: str | None = None,
    source: str | None = None,
    **detail: Any,
) -> AuditEvent:
    """Add an audit row to `s`'s transaction: `actor` does `action` on `target` from `source`.

    `detail` is small and non-personal: ids, counts, changed field names, a role."""
    texty = TEXT_KEYS & detail.keys()
    if texty:
        raise ValueError(f"the audit never holds texts: {', '.join(sorted(texty))}")
    event = AuditEvent(
        at=at,
        actor=actor[:200],
        action=action,
        target=target[:200] if target else None,
        source=source[:64] if source else None,
        detail=detail,
    )
    s.add(event)
    return event

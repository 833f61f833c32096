"""Claiming due rows so that any number of workers can run (the database is the queue)."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import Session

T = TypeVar("T")


def claim(s: Session, stmt: Select[Any], postgres: bool) -> list[Any]:
    """Rows of `stmt`, locked for this transaction and skipped by other workers (PostgreSQL).

    On SQLite the caller's transaction already holds the write lock (BEGIN IMMEDIATE)."""
    if postgres:
        stmt = stmt.with_for_update(skip_locked=True)
    return list(s.scalars(stmt))

"""Promoter / passive / detractor classification of a 0–10 score."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Category", "classify"]


class Category(StrEnum):
    """The NPS group a score belongs to."""

    PROMOTER = "promoter"  # 9–10
    PASSIVE = "passive"  # 7–8
    DETRACTOR = "detractor"  # 0–6


def classify(score: int) -> Category:
    """Return the :class:`Category` of a 0–10 ``score``.

    Raises :class:`ValueError` for anything that is not an ``int`` in 0–10
    (``bool``, ``float`` and strings included: parse replies with
    :func:`scoring.parse_score` first).
    """
    if isinstance(score, bool) or not isinstance(score, int):
        raise ValueError(f"score must be an int from 0 to 10, not {score!r}")
    if score < 0 or score > 10:
        raise ValueError(f"score must be from 0 to 10, not {score}")
    if score >= 9:
        return Category.PROMOTER
    if score >= 7:
        return Category.PASSIVE
    return Category.DETRACTOR

"""Scoring: read 0–10 replies, classify them, analyse comments and compute the NPS.

Pure Python: no web framework, no database. Public API:

- :func:`parse_score` — the one 0–10 score a reply gives, or ``None`` (ask again).
- :class:`Category`, :func:`classify` — promoter 9–10, passive 7–8, detractor 0–6.
- :func:`analyze_comment`, :class:`CommentAnalysis`, :class:`Taxonomy`,
  :data:`DEFAULT_TAXONOMY`, :func:`detect_language` — language, themes, sentiment and
  contradictions of the "why".
- :func:`reason_from`, :func:`fold` — the "why" that came with a score in the same message.
- :func:`nps`, :class:`NpsResult`, :func:`compare_nps`, :class:`Comparison` — NPS with its
  95 % margin of error, and whether a change between two periods is significant.
"""

from scoring.classify import Category, classify
from scoring.comments import (
    DEFAULT_TAXONOMY,
    CommentAnalysis,
    Taxonomy,
    analyze_comment,
    detect_language,
)
from scoring.parse import parse_score
from scoring.reason import fold, reason_from
from scoring.stats import Comparison, NpsResult, compare_nps, nps

__all__ = [
    "DEFAULT_TAXONOMY",
    "Category",
    "CommentAnalysis",
    "Comparison",
    "NpsResult",
    "Taxonomy",
    "analyze_comment",
    "classify",
    "compare_nps",
    "detect_language",
    "fold",
    "nps",
    "parse_score",
    "reason_from",
]

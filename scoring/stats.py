"""Net Promoter Score with its 95 % margin of error, and period comparisons.

NPS = %promoters − %detractors, from −100 to 100. With ``p`` and ``d`` the
promoter and detractor shares of ``n`` answers, the variance of the NPS (as a
share) is ``Var = [p + d − (p − d)²] / n``; the standard error in NPS points is
``100·√Var`` and the 95 % margin of error ``1.96·SE``. Two independent periods
are compared with ``SE_diff = √(SE₁² + SE₂²)`` and a two-sided z-test.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from statistics import NormalDist
from typing import Final

from scoring.classify import Category, classify

__all__ = ["SMALL_SAMPLE", "Comparison", "NpsResult", "compare_nps", "nps"]

#: Below this many answers the normal approximation behind the margin is rough;
#: results are still reported, with their (wide) margin, and flagged.
SMALL_SAMPLE: Final = 30
_Z95: Final = NormalDist().inv_cdf(0.975)


def _z_for(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, not {confidence!r}")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


@dataclass(frozen=True, slots=True)
class NpsResult:
    """NPS of one set of answers. Shares are 0–1; score and margin are in NPS points."""

    n: int
    promoters: int
    passives: int
    detractors: int
    promoter_share: float
    passive_share: float
    detractor_share: float
    score: float | None
    margin_of_error: float | None
    distribution: tuple[int, ...]

    @property
    def standard_error(self) -> float | None:
        """Standard error of the NPS in points (``None`` without answers)."""
        if self.n == 0:
            return None
        p, d = self.promoter_share, self.detractor_share
        return 100.0 * math.sqrt(max(p + d - (p - d) ** 2, 0.0) / self.n)

    @property
    def low(self) -> float | None:
        """Lower end of the 95 % interval, clipped to −100."""
        if self.score is None or self.margin_of_error is None:
            return None
        return max(-100.0, self.score - self.margin_of_error)

    @property
    def high(self) -> float | None:
        """Upper end of the 95 % interval, clipped to 100."""
        if self.score is None or self.margin_of_error is None:
            return None
        return min(100.0, self.score + self.margin_of_error)

    @property
    def small_sample(self) -> bool:
        """True when fewer than :data:`SMALL_SAMPLE` answers: show the margin prominently."""
        return self.n < SMALL_SAMPLE

    def interval(self, confidence: float = 0.95) -> tuple[float, float] | None:
        """The ``confidence`` interval of the NPS, clipped to [−100, 100]."""
        se = self.standard_error
        if self.score is None or se is None:
            return None
        half = _z_for(confidence) * se
        return max(-100.0, self.score - half), min(100.0, self.score + half)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dictionary (for the dashboard and the API)."""
        return {
            "n": self.n,
            "promoters": self.promoters,
            "passives": self.passives,
            "detractors": self.detractors,
            "promoter_share": self.promoter_share,
            "passive_share": self.passive_share,
            "detractor_share": self.detractor_share,
            "score": self.score,
            "margin_of_error": self.margin_of_error,
            "low": self.low,
            "high": self.high,
            "small_sample": self.small_sample,
            "distribution": list(self.distribution),
        }


def nps(
    scores: Iterable[int] | None = None,
    *,
    promoters: int | None = None,
    passives: int | None = None,
    detractors: int | None = None,
) -> NpsResult:
    """Compute the NPS from 0–10 ``scores`` or from the three group counts.

    Give either ``scores`` or all three counts, not both. Invalid scores and
    negative counts raise :class:`ValueError`. With no answers, ``score`` and
    ``margin_of_error`` are ``None``.
    """
    counts = (promoters, passives, detractors)
    distribution = [0] * 11
    if scores is not None:
        if any(c is not None for c in counts):
            raise ValueError("give either scores or counts, not both")
        groups = dict.fromkeys(Category, 0)
        for s in scores:
            groups[classify(s)] += 1
            distribution[s] += 1
        pro, pas, det = (
            groups[Category.PROMOTER],
            groups[Category.PASSIVE],
            groups[Category.DETRACTOR],
        )
    else:
        if any(c is None for c in counts):
            raise ValueError("give scores, or all of promoters, passives and detractors")
        for name, c in zip(("promoters", "passives", "detractors"), counts, strict=True):
            if isinstance(c, bool) or not isinstance(c, int) or c < 0:
                raise ValueError(f"{name} must be a non-negative int, not {c!r}")
        pro, pas, det = (int(c) for c in counts)  # type: ignore[arg-type]
    n = pro + pas + det
    if n == 0:
        return NpsResult(0, 0, 0, 0, 0.0, 0.0, 0.0, None, None, tuple(distribution))
    p, a, d = pro / n, pas / n, det / n
    var = max(p + d - (p - d) ** 2, 0.0) / n
    return NpsResult(
        n=n,
        promoters=pro,
        passives=pas,
        detractors=det,
        promoter_share=p,
        passive_share=a,
        detractor_share=d,
        score=100.0 * (pro - det) / n,
        margin_of_error=_Z95 * 100.0 * math.sqrt(var),
        distribution=tuple(distribution),
    )


@dataclass(frozen=True, slots=True)
class Comparison:
    """Change of NPS between two independent periods (``after − before``)."""

    before: NpsResult
    after: NpsResult
    confidence: float
    change: float
    se_diff: float
    z: float
    p_value: float
    margin: float
    significant: bool

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dictionary."""
        return {
            "before": self.before.score,
            "after": self.after.score,
            "confidence": self.confidence,
            "change": self.change,
            "se_diff": self.se_diff,
            "z": self.z,
            "p_value": self.p_value,
            "margin": self.margin,
            "significant": self.significant,
        }


def compare_nps(before: NpsResult, after: NpsResult, confidence: float = 0.95) -> Comparison:
    """Say whether the NPS change from ``before`` to ``after`` is statistically significant.

    ``SE_diff = √(SE₁² + SE₂²)``; ``z = change / SE_diff``; two-sided p-value;
    ``margin`` is the half-width of the ``confidence`` interval of the change.
    Raises :class:`ValueError` when a period has no answers.
    """
    z_crit = _z_for(confidence)
    se1, se2 = before.standard_error, after.standard_error
    if before.score is None or after.score is None or se1 is None or se2 is None:
        raise ValueError("cannot compare a period without answers")
    change = after.score - before.score
    se_diff = math.hypot(se1, se2)
    if se_diff == 0.0:
        z = 0.0 if change == 0.0 else math.copysign(math.inf, change)
    else:
        z = change / se_diff
    p_value = math.erfc(abs(z) / math.sqrt(2.0))
    return Comparison(
        before=before,
        after=after,
        confidence=confidence,
        change=change,
        se_diff=se_diff,
        z=z,
        p_value=p_value,
        margin=z_crit * se_diff,
        significant=p_value < 1.0 - confidence,
    )

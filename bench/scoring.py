"""Benchmark of the scoring package (run: ``.venv/bin/python bench/scoring.py``).

Prints replies parsed per second by ``parse_score`` on a realistic mixed corpus
(most real replies are a bare number), the same for a bare compiled regex that
finds the first digit run (the floor any parser pays), their ratio, and
comments analysed per second by ``analyze_comment``. One process, one core.
Targets: parse_score >= 100,000 replies/s; analyze_comment >= 5,000 comments/s.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

# This script is named like the package it measures: do not let it import itself.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

from scoring import analyze_comment, parse_score

BARE = [str(n) for n in range(11)]
# Weights of bare scores as NPS answers tend to come: many 10s, 9s and 8s.
BARE_WEIGHTS = [3, 1, 1, 1, 1, 4, 3, 6, 12, 18, 50]
NOISY = [
    " 10 ",
    "10!",
    "9.",
    "10!!",
    "#8",
    "09",
    "10 👍",
    "9 porque llegó rápido",
    "8, slow delivery",
    "10 excelente servicio",
    "9/10",
    "9 de 10",
    "nota 9",
    "le doy un 10",
    "I'd give you a 7",
    "10/10",
    "Nota: 8",
    "dou nota 10",
    "10 muito bom",
    "7 pq demorou",
    "Excelente servicio, 10",
    "muy bueno 9",
    "10 gracias!",
    "5 pésimo",
    "3 terrible support",
    "de 0 a 10 te doy 9",
    "on a scale of 1 to 10, 8",
    "ten out of ten",
    "9️⃣",
    "🔟",
    "１０",
    "10 de 10",
]
WORDS_AND_REJECTS = [
    "nueve",
    "diez",
    "Eight.",
    "dez",
    "três",
    "8 (ocho)",
    "hola",
    "muy bueno",
    "👍",
    "11",
    "8.5",
    "7-8",
    "7 u 8",
    "pedido 4512",
    "$10",
    "a las 10",
    "gracias",
    "ok",
    "100",
    "between 7 and 8",
    "não sei",
    "casi 10",
    "5 estrellas",
    "Excelente atención, muy amables",
]
COMMENTS = [
    "Muy buena atención pero la entrega tardó mucho", "Great service, fast delivery!",
    "O atendimento foi péssimo e demorou", "Muy caro para lo que es", "The app keeps crashing",
    "Chegou rápido, adorei", "Los chicos súper amables", "Asked for a refund a month ago",
    "Todo perfecto, gracias!", "A loja estava suja", "Never buying here again 👎",
    "Excelente calidad, el producto es tal cual la foto", "Paguei com pix, muito fácil",
    "The cashier was rude and the queue was long", "Sin problemas, todo bien",
]  # fmt: skip


def corpus(size: int, seed: int = 4) -> list[str]:
    """70 % bare scores, 20 % scores with noise or a comment, 10 % words and rejects."""
    rng = random.Random(seed)
    out = []
    for _ in range(size):
        r = rng.random()
        if r < 0.70:
            out.append(rng.choices(BARE, BARE_WEIGHTS)[0])
        elif r < 0.90:
            out.append(rng.choice(NOISY))
        else:
            out.append(rng.choice(WORDS_AND_REJECTS))
    return out


def rate(fn: Callable[[str], object], items: list[str], repeat: int = 5) -> float:
    """Best-of-``repeat`` items per second."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for item in items:
            fn(item)
        best = min(best, time.perf_counter() - start)
    return len(items) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--replies", type=int, default=200_000)
    parser.add_argument("--comments", type=int, default=20_000)
    args = parser.parse_args()

    replies = corpus(args.replies)
    baseline = re.compile(r"\d+").search
    analyze_comment("warm up the language models")  # loads the detector once

    parse_rate = rate(parse_score, replies)
    regex_rate = rate(baseline, replies)
    general = [r for r in replies if r not in BARE]
    general_rate = rate(parse_score, general)
    rng = random.Random(5)
    comments = [rng.choice(COMMENTS) for _ in range(args.comments)]
    comment_rate = rate(analyze_comment, comments, repeat=3)
    unseen = [f"{c} {i}" for i, c in enumerate(comments)]  # defeat the stem cache's best case
    unseen_rate = rate(analyze_comment, unseen, repeat=1)

    print(f"corpus: {len(replies):,} replies, {len(general):,} not a bare number")
    print(f"parse_score                     {parse_rate:>12,.0f} replies/s")
    print(f"  of which non-bare replies     {general_rate:>12,.0f} replies/s")
    print(f"baseline re.compile(r'\\d+').search {regex_rate:>9,.0f} replies/s")
    print(f"ratio baseline / parse_score    {regex_rate / parse_rate:>12.1f}x")
    print(f"analyze_comment                 {comment_rate:>12,.0f} comments/s")
    print(f"analyze_comment (unique texts)  {unseen_rate:>12,.0f} comments/s")


if __name__ == "__main__":
    main()

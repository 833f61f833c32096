"""Accuracy of analyze_comment on the labelled set ``comments_labelled.tsv``.

Run ``.venv/bin/python tests/unit/scoring/scoring_comment_eval.py`` to print the figures
quoted in docs/scoring.md. Polarity: sentiment > 0.05 is positive, < −0.05 negative.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from scoring import analyze_comment

DATA = Path(__file__).with_name("comments_labelled.tsv")
NEUTRAL_BAND = 0.05


@dataclass(frozen=True)
class Labelled:
    language: str
    polarity: str
    themes: frozenset[str]
    text: str


def load() -> list[Labelled]:
    rows = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        language, polarity, themes, text = line.split("\t")
        tags = frozenset() if themes == "-" else frozenset(themes.split(","))
        rows.append(Labelled(language, polarity, tags, text))
    return rows


def polarity(sentiment: float) -> str:
    if sentiment > NEUTRAL_BAND:
        return "pos"
    if sentiment < -NEUTRAL_BAND:
        return "neg"
    return "neu"


def evaluate(rows: list[Labelled] | None = None) -> dict[str, float]:
    rows = load() if rows is None else rows
    lang_ok = pol_ok = pn_ok = pn_total = 0
    tp = fp = fn = 0
    per_lang: Counter[str] = Counter()
    per_lang_ok: Counter[str] = Counter()
    for row in rows:
        result = analyze_comment(row.text)
        lang_ok += result.language == row.language
        got = polarity(result.sentiment)
        pol_ok += got == row.polarity
        per_lang[row.language] += 1
        per_lang_ok[row.language] += got == row.polarity
        if row.polarity != "neu":
            pn_total += 1
            pn_ok += got == row.polarity
        found = set(result.themes)
        tp += len(found & row.themes)
        fp += len(found - row.themes)
        fn += len(row.themes - found)
    n = len(rows)
    figures = {
        "n": float(n),
        "language_accuracy": lang_ok / n,
        "polarity_accuracy_3way": pol_ok / n,
        "polarity_accuracy_pos_neg": pn_ok / pn_total,
        "theme_precision": tp / (tp + fp) if tp + fp else 0.0,
        "theme_recall": tp / (tp + fn) if tp + fn else 0.0,
    }
    for lang in sorted(per_lang):
        figures[f"polarity_accuracy_3way_{lang}"] = per_lang_ok[lang] / per_lang[lang]
    return figures


if __name__ == "__main__":
    for key, value in evaluate().items():
        print(f"{key:32} {value:.3f}")

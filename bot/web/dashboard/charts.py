"""The overview's charts as inline SVG drawn here: no JavaScript, no CDN."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup, escape

from bot.web.dashboard.i18n import _

COLORS = {"detractor": "#d64545", "passive": "#e0a800", "promoter": "#2f9e44"}


def trend_chart(
    points: Sequence[dict[str, Any]],
    bench: tuple[str, float] | None,
    w: int = 640,
    h: int = 220,
    lines: Mapping[str, Sequence[dict[str, Any]]] | None = None,
) -> Markup:
    """NPS per period as a line, its 95 % interval as a band, and the benchmark as a dashed line.
    `lines`: more NPS lines over the same periods (label → points: transactional, relational),
    each drawn thin with its label at its last point."""
    pad_l, pad_r, pad_t, pad_b = 36, 12, 12, 28
    known = [p for p in points if p["nps"] is not None]
    if not known:
        return Markup('<p class="muted">%s</p>') % _("No answers in this period yet.")
    lows = [p["low"] for p in known] + ([bench[1]] if bench else [])
    highs = [p["high"] for p in known] + ([bench[1]] if bench else [])
    lo: float = max(-100.0, float(min(lows) // 10) * 10 - 10)
    hi: float = min(100.0, float(max(highs) // 10) * 10 + 10)
    n = len(points)

    def x(i: int) -> float:
        return pad_l + (w - pad_l - pad_r) * (i / (n - 1) if n > 1 else 0.5)

    def y(v: float) -> float:
        return pad_t + (h - pad_t - pad_b) * (hi - v) / (hi - lo)

    parts = [
        f'<svg class="chart" viewBox="0 0 {w} {h}" role="img" '
        f'aria-label="{escape(_("NPS trend"))}">',
    ]
    step = 20 if hi - lo > 80 else 10
    tick = int(lo)
    while tick <= hi:
        parts.append(
            f'<line x1="{pad_l}" x2="{w - pad_r}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
            f'class="grid"/><text x="{pad_l - 4}" y="{y(tick) + 4:.1f}" class="axis" '
            f'text-anchor="end">{tick}</text>'
        )
        tick += step
    # The band, drawn per run of consecutive periods with answers.
    runs: list[list[int]] = [[]]
    for i, p in enumerate(points):
        if p["nps"] is None:
            runs.append([])
        else:
            runs[-1].append(i)
    for run in runs:
        if not run:
            continue
        upper = " ".join(f"{x(i):.1f},{y(points[i]['high']):.1f}" for i in run)
        lower = " ".join(f"{x(i):.1f},{y(points[i]['low']):.1f}" for i in reversed(run))
        if len(run) == 1:
            i = run[0]
            parts.append(
                f'<line x1="{x(i):.1f}" x2="{x(i):.1f}" y1="{y(points[i]["high"]):.1f}" '
                f'y2="{y(points[i]["low"]):.1f}" class="bandline"/>'
            )
        else:
            parts.append(f'<polygon points="{upper} {lower}" class="band"/>')
        line = " ".join(f"{x(i):.1f},{y(points[i]['nps']):.1f}" for i in run)
        parts.append(f'<polyline points="{line}" class="line"/>')
    for i in (i for run in runs for i in run):
        p = points[i]
        title = escape(f"{p['period']}: NPS {p['nps']} ± {p['margin_of_error']} ({p['responses']})")
        parts.append(
            f'<circle cx="{x(i):.1f}" cy="{y(p["nps"]):.1f}" r="3" class="dot">'
            f"<title>{title}</title></circle>"
        )
    at = {p["period"]: i for i, p in enumerate(points)}
    for k, (label, extra) in enumerate((lines or {}).items()):
        drawn = [
            (at[p["period"]], p["nps"]) for p in extra if p["nps"] is not None and p["period"] in at
        ]
        if not drawn:
            continue
        xy = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in drawn)
        parts.append(f'<polyline points="{xy}" class="line kind kind-{k}"/>')
        i, v = drawn[-1]
        parts.append(
            f'<text x="{x(i) - 4:.1f}" y="{y(v) - 6:.1f}" class="axis kind-{k}" '
            f'text-anchor="end">{escape(label)}</text>'
        )
    if bench:
        parts.append(
            f'<line x1="{pad_l}" x2="{w - pad_r}" y1="{y(bench[1]):.1f}" y2="{y(bench[1]):.1f}" '
            f'class="bench"/><text x="{w - pad_r}" y="{y(bench[1]) - 4:.1f}" class="axis" '
            f'text-anchor="end">{escape(bench[0])} {bench[1]:g}</text>'
        )
    labels = {0, n - 1, n // 2}
    for i in sorted(labels):
        anchor = "start" if i == 0 and n > 1 else "end" if i == n - 1 and n > 1 else "middle"
        parts.append(
            f'<text x="{x(i):.1f}" y="{h - 8}" class="axis" text-anchor="{anchor}">'
            f"{escape(points[i]['period'])}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def distribution_chart(dist: Sequence[int], w: int = 440, h: int = 180) -> Markup:
    """Eleven bars, 0–10, coloured by group."""
    pad_b, pad_t = 22, 16
    top = max(dist) or 1
    bw = w / 11
    parts = [
        f'<svg class="chart" viewBox="0 0 {w} {h}" role="img" '
        f'aria-label="{escape(_("0–10 distribution"))}">'
    ]
    for score, n in enumerate(dist):
        cat = "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"
        bh = (h - pad_b - pad_t) * n / top
        x0 = score * bw + 3
        parts.append(
            f'<rect x="{x0:.1f}" y="{h - pad_b - bh:.1f}" width="{bw - 6:.1f}" height="{bh:.1f}" '
            f'fill="{COLORS[cat]}"><title>{score}: {n}</title></rect>'
            f'<text x="{x0 + (bw - 6) / 2:.1f}" y="{h - 6}" class="axis" '
            f'text-anchor="middle">{score}</text>'
            f'<text x="{x0 + (bw - 6) / 2:.1f}" y="{h - pad_b - bh - 3:.1f}" class="axis" '
            f'text-anchor="middle">{n}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))

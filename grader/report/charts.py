"""Charts as inline SVG: no script, no external file, so the report opens offline in any browser.

Every piece of text placed in a chart goes through :func:`html.escape`; titles come from rubrics and
could in principle carry markup.
"""

from __future__ import annotations

import html

from grader.report.analysis import CheckStats, Distribution
from grader.writers._text import format_points, shorten

FONT = "font-family='system-ui, sans-serif' font-size='12'"
BAR = "#4e79a7"
GOOD, FAIR, POOR, NONE = "#59a14f", "#edc948", "#e15759", "#bab0ac"


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def histogram(dist: Distribution, *, width: int = 640, height: int = 260) -> str:
    """Bars of how many submissions scored in each bin of ``dist``, with counts above the bars."""
    left, right, top, bottom = 40, 28, 20, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    tallest = max(dist.bin_counts, default=0) or 1
    bar_w = plot_w / len(dist.bin_counts)
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' viewBox='0 0 {width} {height}' "
        f"role='img' aria-label='Score distribution' {FONT}>",
        "<title>Score distribution: number of submissions per score range</title>",
        f"<line x1='{left}' y1='{top + plot_h}' x2='{left + plot_w}' y2='{top + plot_h}' stroke='#333'/>",
        f"<line x1='{left}' y1='{top}' x2='{left}' y2='{top + plot_h}' stroke='#333'/>",
        f"<text x='{left - 6}' y='{top + 4}' text-anchor='end'>{tallest}</text>",
        f"<text x='{left - 6}' y='{top + plot_h}' text-anchor='end'>0</text>",
    ]
    for i, count in enumerate(dist.bin_counts):
        x = left + i * bar_w
        h = plot_h * count / tallest
        low, high = dist.bin_edges[i], dist.bin_edges[i + 1]
        closing = "]" if i == len(dist.bin_counts) - 1 else ")"
        label = f"[{format_points(low)}, {format_points(high)}{closing}: {count} submissions"
        parts.append(
            f"<rect x='{x + 2:.1f}' y='{top + plot_h - h:.1f}' width='{bar_w - 4:.1f}' height='{h:.1f}' "
            f"fill='{BAR}'><title>{_esc(label)}</title></rect>"
        )
        if count:
            parts.append(
                f"<text x='{x + bar_w / 2:.1f}' y='{top + plot_h - h - 4:.1f}' text-anchor='middle'>{count}</text>"
            )
        parts.append(
            f"<text x='{x:.1f}' y='{top + plot_h + 16}' text-anchor='middle'>{_esc(format_points(low))}</text>"
        )
    parts.append(
        f"<text x='{left + plot_w:.1f}' y='{top + plot_h + 16}' text-anchor='middle'>"
        f"{_esc(format_points(dist.bin_edges[-1]))}</text>"
    )
    parts.append(f"<text x='{left + plot_w / 2:.1f}' y='{height - 6}' text-anchor='middle'>points (total)</text>")
    parts.append("</svg>")
    return "\n".join(parts)


def _rate_colour(rate: float | None) -> str:
    if rate is None:
        return NONE
    return GOOD if rate >= 0.8 else FAIR if rate >= 0.5 else POOR


def pass_rates(stats: list[CheckStats], *, width: int = 760, row: int = 24) -> str:
    """One horizontal bar per check: the share of submissions that passed it."""
    label_w, right = 330, 70
    plot_w = width - label_w - right
    height = row * len(stats) + 30
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' viewBox='0 0 {width} {height}' "
        f"role='img' aria-label='Pass rate per check' {FONT}>",
        "<title>Pass rate per check</title>",
    ]
    for i, stat in enumerate(stats):
        y = 10 + i * row
        rate = stat.pass_rate
        full = f"{stat.column.title}: " + (
            f"{stat.passed} of {stat.attempted} passed" if rate is not None else "not run (skipped everywhere)"
        )
        parts.append(
            f"<text x='{label_w - 8}' y='{y + row * 0.65:.1f}' text-anchor='end'>"
            f"<title>{_esc(full)}</title>{_esc(shorten(stat.column.title, 48))}</text>"
        )
        parts.append(f"<rect x='{label_w}' y='{y + 3}' width='{plot_w}' height='{row - 6}' fill='#eee'/>")
        bar = plot_w * (rate or 0.0)
        parts.append(
            f"<rect x='{label_w}' y='{y + 3}' width='{bar:.1f}' height='{row - 6}' fill='{_rate_colour(rate)}'>"
            f"<title>{_esc(full)}</title></rect>"
        )
        shown = f"{rate:.0%}" if rate is not None else "n/a"
        parts.append(f"<text x='{label_w + plot_w + 6}' y='{y + row * 0.65:.1f}'>{shown}</text>")
    axis_y = 10 + len(stats) * row + 14
    for fraction in (0, 0.5, 1):
        parts.append(
            f"<text x='{label_w + plot_w * fraction:.1f}' y='{axis_y}' text-anchor='middle'>{fraction:.0%}</text>"
        )
    parts.append("</svg>")
    return "\n".join(parts)

"""Inline SVG charts for the HTML report: nothing loaded from anywhere, no scripts."""

from __future__ import annotations

import html
import math

from loadtest.histogram import Histogram

PALETTE = ["#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#ff7f0e", "#8c564b"]
DASHES = ["", "6 3", "2 3", "8 3 2 3"]
WIDTH, HEIGHT = 440, 280
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 32, 44


def color(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def frame(title: str, x_label: str, y_label: str) -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{html.escape(title)}">',
        f'<text x="{WIDTH / 2}" y="18" text-anchor="middle" class="title">'
        f"{html.escape(title)}</text>",
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" '
        'class="axis"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}" class="axis"/>',
        f'<text x="{LEFT + (WIDTH - LEFT - RIGHT) / 2}" y="{HEIGHT - 6}" '
        f'text-anchor="middle">{html.escape(x_label)}</text>',
        f'<text x="14" y="{TOP + plot_h / 2}" text-anchor="middle" '
        f'transform="rotate(-90 14 {TOP + plot_h / 2})">{html.escape(y_label)}</text>',
    ]


def line_chart(
    title: str,
    x_values: list[int],
    series: dict[str, list[float | None]],
    y_label: str,
    marked: dict[str, list[bool]] | None = None,
) -> str:
    """x categorical (connections), y linear from zero; marked points are drawn hollow."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    values = [v for points in series.values() for v in points if v is not None]
    y_max = nice_ceiling(max(values) if values else 1.0)
    n = len(x_values)

    def x_at(i: int) -> float:
        return LEFT + plot_w * (i + 0.5) / n

    def y_at(v: float) -> float:
        return TOP + plot_h - plot_h * (v / y_max if y_max else 0)

    out = frame(title, "connections", y_label)
    for tick in range(5):
        v = y_max * tick / 4
        y = y_at(v)
        out.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" class="grid"/>'
        )
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{short(v)}</text>')
    for i, x in enumerate(x_values):
        out.append(
            f'<text x="{x_at(i):.1f}" y="{TOP + plot_h + 16}" text-anchor="middle">{x:,}</text>'
        )
    for index, (name, points) in enumerate(series.items()):
        stroke = color(index)
        marks = (marked or {}).get(name, [False] * n)
        coords = [(i, x_at(i), y_at(v)) for i, v in enumerate(points) if v is not None]
        if len(coords) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for _, x, y in coords)
            out.append(
                f'<polyline points="{path}" fill="none" stroke="{stroke}" stroke-width="2"/>'
            )
        for i, x, y in coords:
            fill = "#fff" if marks[i] else stroke
            out.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{fill}" stroke="{stroke}" '
                'stroke-width="2"/>'
            )
        out += legend_entry(index, name, stroke, "", list(series))
    out.append("</svg>")
    return "\n".join(out)


def y_tick(y: float, plot_w: float, label: str) -> list[str]:
    return [
        f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" class="grid"/>',
        f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{label}</text>',
    ]


def legend_entry(index: int, label: str, stroke: str, dash: str, labels: list[str]) -> list[str]:
    """Legend entries flow left to right, wrapping to a new line when the row is full."""
    x, y = legend_position(labels)[index]
    return [
        f'<line x1="{x}" y1="{y}" x2="{x + 16}" y2="{y}" stroke="{stroke}" stroke-width="2" '
        f'stroke-dasharray="{dash}"/>',
        f'<text x="{x + 20}" y="{y + 4}">{html.escape(label)}</text>',
    ]


def legend_position(labels: list[str]) -> list[tuple[float, float]]:
    positions, x, y = [], LEFT + 8.0, TOP + 6.0
    for label in labels:
        if x > LEFT + 8 and x + legend_width(label) > WIDTH - RIGHT:
            x, y = LEFT + 8.0, y + 13
        positions.append((x, y))
        x += legend_width(label)
    return positions


def legend_width(label: str) -> float:
    return 30 + 6.2 * len(label)  # about 6 px a character at the legend's 11 px


def nines(count: int) -> float:
    """How far right a percentile curve can honestly go: 1 / count of the way to 100%."""
    return max(1.0, min(5.0, math.log10(max(count, 1))))


def distribution_chart(title: str, curves: list[tuple[str, int, str, Histogram]]) -> str:
    """Latency by percentile, both axes logarithmic, as HdrHistogram plots it: x is
    log10(1 / (1 - p)), so 90%, 99%, 99.9% are evenly spaced. `curves` holds
    (framework, level index, label, histogram)."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM - 30
    top = TOP + 30  # room for the legend
    prepared = []
    for framework, level_index, label, hist in curves:
        steps = int(nines(hist.count) * 20)
        xs = [k / 20 for k in range(steps + 1)]
        pcts = [100 * (1 - 10**-x) for x in xs]
        values = [max(v, 1) / 1e6 for v in hist.percentiles(pcts)]
        prepared.append((framework, level_index, label, xs, values))
    all_values = [v for *_, values in prepared for v in values] or [1.0]
    low = math.floor(math.log10(max(min(all_values), 1e-3)))
    high = max(low + 1, math.ceil(math.log10(max(all_values))))
    x_max = max((xs[-1] for _, _, _, xs, _ in prepared), default=3.0)

    def x_at(x: float) -> float:
        return LEFT + plot_w * x / x_max

    def y_at(ms: float) -> float:
        return top + plot_h - plot_h * (math.log10(max(ms, 10**low)) - low) / (high - low)

    out = frame(title, "percentile", "latency, ms (log)")
    for exponent in range(low, high + 1):
        y = y_at(10**exponent)
        out.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" class="grid"/>'
        )
        out.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{short(10**exponent)}</text>'
        )
    for k in range(int(x_max) + 1):
        label = "0%" if k == 0 else f"{100 * (1 - 10**-k):.{max(0, k - 2)}f}%"
        x = x_at(k)
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h}" class="grid"/>')
        out.append(f'<text x="{x:.1f}" y="{top + plot_h + 16}" text-anchor="middle">{label}</text>')
    frameworks = list(dict.fromkeys(framework for framework, *_ in prepared))
    for index, (framework, level_index, label, xs, values) in enumerate(prepared):
        stroke = color(frameworks.index(framework))
        dash = DASHES[level_index % len(DASHES)]
        path = " ".join(f"{x_at(x):.1f},{y_at(v):.1f}" for x, v in zip(xs, values, strict=True))
        out.append(
            f'<polyline points="{path}" fill="none" stroke="{stroke}" stroke-width="1.8" '
            f'stroke-dasharray="{dash}"/>'
        )
        out += legend_entry(index, label, stroke, dash, [c[2] for c in prepared])
    out.append("</svg>")
    return "\n".join(out)


def nice_ceiling(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def short(value: float) -> str:
    if value >= 1000:
        return f"{value / 1000:g}k"
    return f"{value:g}"

"""Small inline SVG charts for the HTML report: no JavaScript, no network, a few KB each.

Every text that reaches the SVG is escaped here, so data-borne labels stay text.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT = 560, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 28, 44
PALETTE = ("#3366cc", "#dc3912", "#ff9900", "#109618", "#990099", "#0099c6", "#dd4477",
           "#66aa00", "#b82e2e", "#316395")


def _scale(values: Sequence[float], log: bool) -> tuple[float, float]:
    finite = [v for v in values if math.isfinite(v) and (v > 0 or not log)]
    if not finite:
        return (0.0, 1.0)
    low, high = min(finite), max(finite)
    if log:
        low, high = math.log10(low), math.log10(high)
    if high == low:
        high = low + (abs(low) * 0.2 or 1.0)
    return low, high


def _position(value: float, bounds: tuple[float, float], log: bool, start: float,
              length: float) -> float:
    if log:
        value = math.log10(max(value, 1e-12))
    low, high = bounds
    return start + (value - low) / (high - low) * length


def _ticks(bounds: tuple[float, float], log: bool, count: int = 5) -> list[float]:
    low, high = bounds
    if log:
        return [10.0 ** e for e in range(math.floor(low), math.ceil(high) + 1)
                if low - 1e-9 <= e <= high + 1e-9] or [10.0 ** low]
    step = (high - low) / (count - 1)
    return [low + i * step for i in range(count)]


def _integer_ticks(bounds: tuple[float, float], count: int = 6) -> list[float]:
    """Whole-number ticks within ``bounds``, at most ``count`` of them, 1, 2 or 5 x 10^n apart
    (for counts, trial numbers, epochs: an axis of whole numbers has no tick at 2.5)."""
    low, high = math.ceil(bounds[0] - 1e-9), math.floor(bounds[1] + 1e-9)
    if high < low:
        return []
    span = high - low
    step = 1
    while span / step > count - 1:
        step = _next_step(step)
    first = -(-low // step) * step
    return [float(t) for t in range(first, high + 1, step)]


def _next_step(step: int) -> int:
    """The next of 1, 2, 5, 10, 20, 50..."""
    magnitude = 10 ** (len(str(step)) - 1)
    lead = step // magnitude
    return {1: 2, 2: 5, 5: 10}[lead] * magnitude


def _label(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000 or abs(value) < 0.01:
        return f"{value:.2g}"
    return f"{value:.3g}"


def _frame(title: str, x_label: str, y_label: str, x_ticks: list[tuple[float, str]],
           y_ticks: list[tuple[float, str]], body: str, legend: Sequence[tuple[str, str]]) -> str:
    plot_bottom = HEIGHT - BOTTOM
    parts = [f'<svg class="chart" role="img" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}">',
             f'<title>{escape(title)}</title>',
             f'<text x="{WIDTH / 2}" y="16" text-anchor="middle" class="chart-title">'
             f'{escape(title)}</text>',
             f'<line x1="{LEFT}" y1="{plot_bottom}" x2="{WIDTH - RIGHT}" y2="{plot_bottom}" '
             f'class="axis"/>',
             f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{plot_bottom}" class="axis"/>']
    for x, text in x_ticks:
        parts.append(f'<text x="{x:.1f}" y="{plot_bottom + 14}" text-anchor="middle" '
                     f'class="tick">{escape(text)}</text>')
    for y, text in y_ticks:
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" '
                     f'class="grid"/><text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end" '
                     f'class="tick">{escape(text)}</text>')
    parts.append(f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 6}" text-anchor="middle" '
                 f'class="axis-label">{escape(x_label)}</text>')
    parts.append(f'<text x="14" y="{(TOP + plot_bottom) / 2}" text-anchor="middle" '
                 f'transform="rotate(-90 14 {(TOP + plot_bottom) / 2})" class="axis-label">'
                 f'{escape(y_label)}</text>')
    parts.append(body)
    for index, (name, colour) in enumerate(legend):
        y = TOP + 4 + index * 14
        parts.append(f'<rect x="{WIDTH - RIGHT - 150}" y="{y - 8}" width="10" height="10" '
                     f'fill="{colour}"/><text x="{WIDTH - RIGHT - 136}" y="{y + 1}" '
                     f'class="legend">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _axis_ticks(bounds: tuple[float, float], log: bool, integer: bool
                ) -> list[tuple[float, str]]:
    """Tick values and their labels: whole numbers only on an integer axis."""
    if integer and not log:
        return [(t, f"{int(t):,}") for t in _integer_ticks(bounds)]
    return [(t, _label(t)) for t in _ticks(bounds, log)]


def line_chart(series: dict[str, tuple[Sequence[float], Sequence[float]]], *, title: str,
               x_label: str, y_label: str, log_x: bool = False, log_y: bool = False,
               markers: bool = False, integer_x: bool = False, integer_y: bool = False) -> str:
    """Lines (or markers) for each named series of ``(xs, ys)``.

    ``integer_x`` / ``integer_y`` mark an axis of whole numbers (trials, epochs, counts): its
    ticks are whole numbers only.
    """
    xs = [x for values in series.values() for x in values[0]]
    ys = [y for values in series.values() for y in values[1]]
    x_bounds, y_bounds = _scale(xs, log_x), _scale(ys, log_y)
    if not log_y:
        y_bounds = (min(0.0, y_bounds[0]), y_bounds[1])
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def point(x: float, y: float) -> tuple[float, float]:
        return (_position(x, x_bounds, log_x, LEFT, plot_width),
                _position(y, y_bounds, log_y, HEIGHT - BOTTOM, -plot_height))

    body, legend = [], []
    for index, (name, (x_values, y_values)) in enumerate(series.items()):
        colour = PALETTE[index % len(PALETTE)]
        legend.append((name, colour))
        points = [point(x, y) for x, y in zip(x_values, y_values)
                  if math.isfinite(y) and (x > 0 or not log_x) and (y > 0 or not log_y)]
        if not points:
            continue
        if markers or len(points) == 1:  # a line of one point would not show
            body += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>'
                     for x, y in points]
        else:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            body.append(f'<polyline points="{path}" fill="none" stroke="{colour}" '
                        f'stroke-width="2"/>')
    x_ticks = [(point(t, y_bounds[0] if not log_y else 10 ** y_bounds[0])[0], text)
               for t, text in _axis_ticks(x_bounds, log_x, integer_x)]
    y_ticks = [(point(x_bounds[0] if not log_x else 10 ** x_bounds[0], t)[1], text)
               for t, text in _axis_ticks(y_bounds, log_y, integer_y)]
    return _frame(title, x_label, y_label, x_ticks, y_ticks, "".join(body),
                  legend if len(series) > 1 else [])


def bar_chart(labels: Sequence[str], values: Sequence[float], *, title: str, x_label: str,
              y_label: str, highlight: int | None = None, integer_y: bool = False) -> str:
    """Vertical bars, one per label (``integer_y``: the values are counts, ticks whole)."""
    count = max(len(values), 1)
    top = max([v for v in values if math.isfinite(v)] + [0.0]) or 1.0
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_width / count
    body = []
    for index, value in enumerate(values):
        height = plot_height * (value / top if math.isfinite(value) else 0.0)
        x = LEFT + index * slot + slot * 0.1
        colour = PALETTE[1] if index == highlight else PALETTE[0]
        body.append(f'<rect x="{x:.1f}" y="{HEIGHT - BOTTOM - height:.1f}" '
                    f'width="{slot * 0.8:.1f}" height="{height:.1f}" fill="{colour}">'
                    f'<title>{escape(labels[index])}: {_label(value)}</title></rect>')
    step = max(1, math.ceil(count / 12))
    x_ticks = [(LEFT + (i + 0.5) * slot, labels[i][:14]) for i in range(0, count, step)]
    y_ticks = [(HEIGHT - BOTTOM - plot_height * t / top, text)
               for t, text in _axis_ticks((0.0, top), False, integer_y)]
    return _frame(title, x_label, y_label, x_ticks, y_ticks, "".join(body), [])

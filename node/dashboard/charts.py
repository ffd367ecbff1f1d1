"""Bar charts as geometry for an inline SVG (templates/_chart.html draws them): no JavaScript,
no chart library, nothing fetched. Each chart also has its numbers in a table on the page.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

WIDTH = 720
HEIGHT = 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 12, 12, 36


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: int
    label: str  # the tooltip: "2025-06-01: 12 recorded"


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class BarChart:
    chart_id: str
    title: str
    summary: str  # one sentence for screen readers
    series: list[str]
    bars: list[Bar]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    width: int = WIDTH
    height: int = HEIGHT
    plot_left: int = _LEFT
    plot_bottom: int = HEIGHT - _BOTTOM
    plot_right: int = WIDTH - _RIGHT


def nice_step(largest: float, ticks: int = 4) -> float:
    """A step of 1, 2 or 5 times a power of ten giving at most ``ticks`` steps up to ``largest`` (> 0)."""
    raw = largest / ticks
    power = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 5, 10):
        if multiple * power >= raw:
            return float(multiple * power)
    return float(10 * power)  # pragma: no cover (the loop always returns)


def bar_chart(
    *,
    chart_id: str,
    title: str,
    summary: str,
    days: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    value_label: Callable[[float], str] = lambda v: f"{v:,.0f}",
    whole: bool = True,
) -> BarChart:
    """Grouped bars: one group per day, one bar per series. Requires every series to have a value per day.
    ``whole``: the values are counts, so the axis steps by whole numbers."""
    largest = max((v for _name, values in series for v in values), default=0.0)
    step = nice_step(largest) if largest > 0 else 1.0
    if whole:
        step = max(1.0, step)
    top = step * math.ceil(largest / step) if largest > 0 else step * 4
    plot_height = HEIGHT - _TOP - _BOTTOM
    plot_width = WIDTH - _LEFT - _RIGHT
    group = plot_width / max(1, len(days))
    bar_width = max(1.0, group * 0.8 / max(1, len(series)))
    bars = []
    for s, (name, values) in enumerate(series):
        for d, (day, value) in enumerate(zip(days, values, strict=True)):
            # The top is rounded, and the height is what is left down to the axis: rounding both on their
            # own could put the bar's foot 0.01 below the plot.
            y = round(HEIGHT - _BOTTOM - plot_height * value / top, 2)
            bars.append(
                Bar(
                    x=round(_LEFT + d * group + group * 0.1 + s * bar_width, 2),
                    y=y,
                    width=round(bar_width, 2),
                    height=round(HEIGHT - _BOTTOM - y, 2),
                    series=s,
                    label=f"{day}: {value_label(value)} {name}",
                )
            )
    y_ticks = [
        Tick(round(HEIGHT - _BOTTOM - plot_height * (i * step) / top, 2), value_label(i * step))
        for i in range(round(top / step) + 1)
    ]
    every = max(1, math.ceil(len(days) / 6))
    x_ticks = [Tick(round(_LEFT + d * group + group / 2, 2), day[5:]) for d, day in enumerate(days) if d % every == 0]
    return BarChart(chart_id, title, summary, [name for name, _ in series], bars, y_ticks, x_ticks)

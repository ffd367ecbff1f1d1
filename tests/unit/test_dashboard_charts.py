"""The overview's bar charts: bars in proportion, axes that read well, nothing but numbers in."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from node.dashboard.charts import HEIGHT, bar_chart, nice_step
from node.pages.templating import format_wei


@pytest.mark.parametrize(
    ("largest", "step"), [(1, 0.5), (4, 1), (7, 2), (10, 5), (120, 50), (55_000, 20_000), (0.003, 0.001)]
)
def test_steps_are_one_two_or_five_times_a_power_of_ten(largest: float, step: float) -> None:
    assert nice_step(largest) == pytest.approx(step)


def test_bars_are_in_proportion_and_counts_get_whole_ticks() -> None:
    chart = bar_chart(
        chart_id="c",
        title="t",
        summary="s",
        days=["2025-06-01", "2025-06-02", "2025-06-03"],
        series=[("recorded", [0, 1, 1]), ("verified", [0, 0, 1])],
    )
    heights = [b.height for b in chart.bars]
    assert heights[0] == 0 and heights[1] == heights[2] == heights[5] > 0 and heights[3] == heights[4] == 0
    assert [t.label for t in chart.y_ticks] == ["0", "1"]
    assert chart.bars[1].label == "2025-06-02: 1 recorded"
    assert [t.label for t in chart.x_ticks] == ["06-01", "06-02", "06-03"]


@example([250, 150_002])  # rounded apart, the top and the height once put the foot 0.01 below the axis
@given(st.lists(st.integers(min_value=0, max_value=10**12), min_size=1, max_size=60))
def test_every_bar_stays_inside_the_plot(values: list[int]) -> None:
    days = [f"2025-01-{i:02d}" for i in range(1, len(values) + 1)]
    chart = bar_chart(chart_id="c", title="t", summary="s", days=days, series=[("n", values)])
    for bar in chart.bars:
        assert bar.y >= 0 and bar.height >= 0 and abs(bar.y + bar.height - chart.plot_bottom) < 1e-9  # on the axis
        assert chart.plot_left <= bar.x and bar.x + bar.width <= chart.plot_right + 0.01
    assert max(values) == 0 or max(float(t.label.replace(",", "")) for t in chart.y_ticks) >= max(values)
    assert chart.height == HEIGHT


def test_wei_reads_as_wei_gwei_or_eth() -> None:
    assert format_wei(0) == "0 wei"
    assert format_wei("999999") == "999,999 wei"
    assert format_wei(55_000 * 10**9) == "55,000 gwei"
    assert format_wei(1_500_000_000) == "1.500 gwei"
    assert format_wei(2 * 10**18) == "2.000000 ETH"
    assert format_wei(None) == "—"

"""One row per figure: the median, the baseline measured in the same run, their ratio, the target."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass
class Row:
    section: str
    measure: str
    figure: float
    unit: str
    baseline: float | None = None
    baseline_label: str = ""
    target: str = ""
    met: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or not self.baseline or math.isnan(self.baseline) or math.isnan(self.figure):
            return None
        return self.figure / self.baseline


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 1:
        text = f"{value:,.2f}"
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}".strip()


def render(rows: list[Row], header: str) -> str:
    """A Markdown table (readable in a terminal, pasteable into docs/PERFORMANCE.md)."""
    lines = [
        header,
        "",
        "| # | measure | median | baseline (same run) | ratio | target | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        ratio = "-" if row.ratio is None else f"{row.ratio:.3g}x"
        baseline = "-" if row.baseline is None else f"{_fmt(row.baseline, row.unit)} ({row.baseline_label})"
        met = {True: "yes", False: "**no**", None: "-"}[row.met]
        measure = row.measure + (f" ({row.note})" if row.note else "")
        figure = _fmt(row.figure, row.unit)
        lines.append(f"| {row.section} | {measure} | {figure} | {baseline} | {ratio} | {row.target} | {met} |")
    return "\n".join(lines)


def save(rows: list[Row], path: Path, meta: dict[str, object]) -> None:
    path.write_text(json.dumps({"meta": meta, "rows": [{**asdict(r), "ratio": r.ratio} for r in rows]}, indent=2))

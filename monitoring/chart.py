"""The dashboard's chart: runs per hour by outcome, as a small server-rendered SVG."""

from __future__ import annotations

from dataclasses import dataclass

from monitoring.stats import Bar

# Drawing order, bottom to top, and each outcome's colour (readable on white, and not
# told apart by colour alone: the table under the chart has the numbers).
SERIES = [
    ("succeeded", "#2e7d32"),
    ("failed", "#c62828"),
    ("cancelled", "#9e9e9e"),
    ("running", "#1565c0"),
]
WIDTH, HEIGHT = 720, 180
LEFT, BOTTOM, TOP = 32, 28, 10


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    rects: list[Rect]
    labels: list[tuple[float, str, bool]]  # x, text under the axis, minor
    ticks: list[tuple[float, int]]  # y, value
    baseline: float
    plot_left: int
    series: list[tuple[str, str]]


def _nice_top(value: int) -> int:
    for top in (4, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000):
        if value <= top:
            return top
    step = 10 ** (len(str(value)) - 1)
    return -(-value // step) * step


def hourly_chart(bars: list[Bar]) -> Chart:
    top = _nice_top(max((bar.total for bar in bars), default=0))
    plot_height = HEIGHT - BOTTOM - TOP
    slot = (WIDTH - LEFT) / max(1, len(bars))
    rects, labels = [], []
    for index, bar in enumerate(bars):
        x = LEFT + index * slot + slot * 0.15
        y = HEIGHT - BOTTOM
        for outcome, colour in SERIES:
            count = bar.counts.get(outcome, 0)
            if not count:
                continue
            height = plot_height * count / top
            y -= height
            title = f"{bar.hour:%H}:00 UTC: {count} {outcome}"
            rects.append(
                Rect(
                    round(x, 1), round(y, 1), round(slot * 0.7, 1), round(height, 1), colour, title
                )
            )
        if index % 3 == 0:  # every 3 hours; on phones every 6 (the others are "minor")
            labels.append((round(x + slot * 0.35, 1), f"{bar.hour:%H}h", index % 6 != 0))
    ticks = [(round(HEIGHT - BOTTOM - plot_height * v / top, 1), v) for v in (0, top // 2, top)]
    return Chart(WIDTH, HEIGHT, rects, labels, ticks, HEIGHT - BOTTOM, LEFT, SERIES)

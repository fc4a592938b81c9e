"""Charts drawn on the server as inline SVG: no script, no CDN, nothing for the
Content Security Policy to allow (only SVG presentation attributes, no inline
``style``). Each chart has a title and a description for screen readers, and
the page shows the same numbers in a table beside it."""

from __future__ import annotations

import textwrap

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

BAR_HEIGHT = 22
GAP = 8
BAR_WIDTH = 380
VALUE_WIDTH = 80
LINE_HEIGHT = 15
# Labels sit above their bar, across the chart's whole width, and wrap onto
# more lines (SVG text does not wrap by itself): a long label in any language
# is shown whole, never cut at the chart's edge. 12px text averages well under
# 7px a character, so this many characters fit the width.
LABEL_CHARACTERS = (BAR_WIDTH + VALUE_WIDTH) // 7


def _svg(width: int, height: int, title: str, description: str, body: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="insights-chart" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="{_id(title)}-t {_id(title)}-d">'
        f'<title id="{_id(title)}-t">{escape(title)}</title>'
        f'<desc id="{_id(title)}-d">{escape(description)}</desc>{body}</svg>'
    )


def _id(text: str) -> str:
    return "chart-" + "".join(c if c.isalnum() else "-" for c in text.lower())[:40]


def label_lines(label: str) -> list[str]:
    """The label's lines: whole words, each line within the chart's width."""
    return textwrap.wrap(label, LABEL_CHARACTERS, break_long_words=True) or [""]


def bar_chart(
    title: str, bars: list[tuple[str, float | None, str]], maximum: float = 100.0
) -> SafeString:
    """Horizontal bars, each under its label: (label, value or None, value as shown)."""
    width = BAR_WIDTH + VALUE_WIDTH
    parts = []
    y = GAP
    for label, value, shown in bars:
        lines = label_lines(label)
        tspans = "".join(
            f'<tspan x="2" dy="{0 if index == 0 else LINE_HEIGHT}">{escape(line)}</tspan>'
            for index, line in enumerate(lines)
        )
        parts.append(
            f'<text x="2" y="{y + LINE_HEIGHT - 3}" class="insights-label">{tspans}</text>'
        )
        y += len(lines) * LINE_HEIGHT + 2
        length = 0 if value is None or maximum <= 0 else BAR_WIDTH * value / maximum
        length = max(0.0, min(float(BAR_WIDTH), length))
        middle = y + BAR_HEIGHT / 2 + 4
        parts.append(
            f'<rect x="0" y="{y}" width="{BAR_WIDTH}" '
            f'height="{BAR_HEIGHT}" class="insights-track"/>'
            f'<rect x="0" y="{y}" width="{length:.1f}" '
            f'height="{BAR_HEIGHT}" class="insights-bar"/>'
            f'<text x="{BAR_WIDTH + 6}" y="{middle:.0f}" '
            f'class="insights-value">{escape(shown)}</text>'
        )
        y += BAR_HEIGHT + GAP
    height = y
    description = "; ".join(f"{label}: {shown}" for label, _value, shown in bars)
    return mark_safe(_svg(width, height, title, description, "".join(parts)))  # noqa: S308 - escaped above


def line_chart(
    title: str, points: list[tuple[str, float | None, str]], unit_label: str
) -> SafeString:
    """A small trend: (x label, value or None, value as shown), one per week."""
    width, height, left, bottom, top = 480, 160, 40, 30, 12
    plot_width, plot_height = width - left - 10, height - bottom - top
    known = [v for _label, v, _shown in points if v is not None]
    if not known:
        return mark_safe("")
    highest = max(known) or 1.0
    step = plot_width / max(1, len(points) - 1)
    coordinates = []
    marks = []
    for index, (label, value, shown) in enumerate(points):
        x = left + index * step
        if value is not None:
            y = top + plot_height * (1 - value / highest)
            coordinates.append(f"{x:.1f},{y:.1f}")
            marks.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" class="insights-point">'
                f"<title>{escape(label)}: {escape(shown)}</title></circle>"
            )
        if index == 0 or index == len(points) - 1 or len(points) <= 8:
            marks.append(
                f'<text x="{x:.1f}" y="{height - 10}" text-anchor="middle" '
                f'class="insights-axis">{escape(label)}</text>'
            )
    axis = (
        f'<line x1="{left}" y1="{top + plot_height}" x2="{width - 10}" '
        f'y2="{top + plot_height}" class="insights-axis-line"/>'
        f'<text x="{left - 4}" y="{top + 4}" text-anchor="end" '
        f'class="insights-axis">{highest:.0f}</text>'
        f'<text x="{left - 4}" y="{top + plot_height}" text-anchor="end" '
        f'class="insights-axis">0</text>'
        f'<text x="4" y="{top - 2}" class="insights-axis">{escape(unit_label)}</text>'
    )
    line = f'<polyline points="{" ".join(coordinates)}" class="insights-line"/>'
    description = "; ".join(f"{label}: {shown}" for label, _value, shown in points)
    return mark_safe(  # noqa: S308 - escaped above
        _svg(width, height, title, description, axis + line + "".join(marks))
    )

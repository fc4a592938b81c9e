"""The server-drawn charts: every label shown whole, whatever its length."""

import re

from insights import charts

LONG = "Taux de confirmation, avec rappels envoyés au moins quarante-huit heures avant"


def test_bar_labels_are_shown_whole_and_wrap_within_the_chart():
    """Labels were right-aligned in a 150px margin: a long one ran off the
    chart's left edge and was cut."""
    # when
    svg = str(
        charts.bar_chart("Rendez-vous", [(LONG, 50.0, "50 %"), ("SMS", 1, "1 %")])
    )
    # then: every word of the label is drawn, inside the chart, never anchored
    # at its end (which pushes the start out of the picture)
    width = int(re.search(r'width="(\d+)"', svg).group(1))
    lines = re.findall(r"<tspan[^>]*>([^<]*)</tspan>", svg)
    assert " ".join(lines[:-1]) == LONG
    assert len(lines) > 2  # the long label wrapped onto two lines or more
    assert 'text-anchor="end"' not in svg
    assert all(float(x) >= 0 for x in re.findall(r' x="(-?[\d.]+)"', svg))
    # 12px text: at most 7px a character on average, so each line fits
    assert all(len(line) * 7 <= width for line in lines)
    # and the bars sit below the wrapped label, inside the chart's height
    height = int(re.search(r'height="(\d+)"', svg).group(1))
    assert all(
        float(y) + 22 <= height for y in re.findall(r'<rect x="0" y="([\d.]+)"', svg)
    )

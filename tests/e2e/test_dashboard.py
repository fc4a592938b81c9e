"""The KPI dashboard at phone and desk widths: every chart label is drawn
whole inside its chart, and the period's start reads as a date (issue 19)."""

from __future__ import annotations

import pytest

from clinic.demo_data import DEMO_PASSWORD
from tests.e2e.conftest import admin_sign_in, screenshot

pytestmark = pytest.mark.e2e

# Each label's box (every line of it) against its chart's box, as drawn.
LABELS_OUTSIDE = """() => {
  const outside = [];
  for (const svg of document.querySelectorAll("svg.insights-chart")) {
    const chart = svg.getBoundingClientRect();
    for (const text of svg.querySelectorAll("text.insights-label, text.insights-value")) {
      const box = text.getBoundingClientRect();
      if (box.left < chart.left - 1 || box.right > chart.right + 1
          || box.top < chart.top - 1 || box.bottom > chart.bottom + 1) {
        outside.push(text.textContent);
      }
    }
  }
  return outside;
}"""


def _dashboard(page, stack, username: str) -> None:
    code = stack.stage("staff-code", "--username", username)["code"]
    admin_sign_in(page, stack, username, DEMO_PASSWORD, code)
    page.goto(stack.url + "/admin/insights/dashboard/")
    page.locator("svg.insights-chart").first.wait_for()


@pytest.mark.parametrize("phone", ["fr"], indirect=True)
def test_dashboard_labels_whole_at_phone_width_in_french(stack, phone):
    # when
    _dashboard(phone, stack, "lilas.admin")
    # then
    assert phone.locator("label[for=id_start]").inner_text() == "Du"
    assert phone.locator("text.insights-label").count() >= 4
    screenshot(phone, "dashboard-phone-fr")
    assert phone.evaluate(LABELS_OUTSIDE) == []


def test_dashboard_labels_whole_at_desk_width(stack, desk):
    # when
    _dashboard(desk, stack, "lilas.admin")
    # then
    assert desk.locator("label[for=id_start]").inner_text() == "From"
    assert desk.evaluate(LABELS_OUTSIDE) == []
    screenshot(desk, "dashboard-desk-en")

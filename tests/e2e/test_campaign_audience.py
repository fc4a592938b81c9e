"""A staff member writing a campaign sees the audience count follow the
fields as they change, before saving (issue 19): the count comes from the
campaign admin's endpoint, called by a static script under the real CSP."""

from __future__ import annotations

import re

import pytest

from clinic.demo_data import DEMO_PASSWORD
from tests.e2e.conftest import admin_sign_in, screenshot

pytestmark = pytest.mark.e2e

SUMMARY = re.compile(r"(\d+) of (\d+) patients will receive it; (\d+) will not\.")


def test_the_audience_count_follows_the_form_before_saving(stack, desk):
    # given: the clinic administrator on a new campaign
    code = stack.stage("staff-code", "--username", "lilas.admin")["code"]
    admin_sign_in(desk, stack, "lilas.admin", DEMO_PASSWORD, code)
    desk.goto(stack.url + "/admin/campaigns/campaign/add/")
    summary = desk.locator("#audience-live [data-audience=summary]")
    # when: a topic is chosen
    desk.select_option("#id_topic", index=1)
    # then: the count appears, without saving
    desk.wait_for_function(
        "el => /patients will receive it/.test(el.textContent)",
        arg=summary.element_handle(),
    )
    everyone = SUMMARY.search(summary.inner_text())
    assert everyone, summary.inner_text()
    # when: the audience is narrowed to an age nobody has
    desk.fill("#id_age_min", "120")
    # then: the count follows
    desk.wait_for_function(
        "el => /^0 of 0 patients/.test(el.textContent)",
        arg=summary.element_handle(),
    )
    assert int(everyone.group(2)) > 0
    assert "/admin/campaigns/campaign/add/" in desk.url
    screenshot(desk, "campaign-audience-live")

"""Admin's own theme in Chromium, under the unchanged CSP (issue 19): the main
staff pages at desk and phone widths, without a console error; the theme's
colours applied, Django's dark-mode toggle switching them, the sidebar by
task and its filter working, a list filter applied by a click."""

from __future__ import annotations

import pytest

from clinic.demo_data import DEMO_PASSWORD
from tests.e2e.conftest import admin_sign_in, axe_check, screenshot

pytestmark = pytest.mark.e2e

STAFF = "lilas.admin"
TASKS = [
    "patients",
    "messages",
    "campaigns",
    "consent",
    "insights",
    "settings",
]


def _sign_in(page, stack) -> None:
    code = stack.stage("staff-code", "--username", STAFF)["code"]
    admin_sign_in(page, stack, STAFF, DEMO_PASSWORD, code)


def _style(page, selector: str, prop: str) -> str:
    return page.evaluate(
        "([s, p]) => getComputedStyle(document.querySelector(s)).getPropertyValue(p)",
        [selector, prop],
    ).strip()


def _pages(conversation: int) -> list[tuple[str, str]]:
    """The pages to look at: (name, url)."""
    return [
        ("index", "/admin/"),
        ("patients", "/admin/clinic/patient/"),
        ("campaign", "/admin/campaigns/campaign/add/"),
        ("conversation", f"/admin/messaging/conversation/{conversation}/conversation/"),
        ("dashboard", "/admin/insights/dashboard/"),
    ]


def _conversation(stack) -> int:
    data = stack.stage("conversation", "--lang", "en")
    text = "Hello, can I come earlier on Thursday?"
    return stack.stage("sms-in", "--patient", str(data["patient"]), "--text", text)[
        "conversation"
    ]


def test_admin_pages_in_the_theme_at_desk_width(stack, desk):
    # given
    conversation = _conversation(stack)
    _sign_in(desk, stack)
    # when / then: each page themed, shot, without a console error (fixture)
    for name, url in _pages(conversation):
        desk.goto(stack.url + url)
        assert _style(desk, "#header", "background-color") == "rgb(21, 57, 107)"
        assert desk.locator("#site-name .brand-organization").inner_text() != ""
        screenshot(desk, f"admin-theme-{name}-desk")
    desk.goto(stack.url + "/admin/")
    groups = desk.locator("#content-main .task-module")
    assert [
        desk.evaluate("e => e.className.split(' ')[0]", groups.nth(i).element_handle())
        for i in range(groups.count())
    ] == [f"task-{key}" for key in TASKS]
    axe_check(desk, "admin index")


def test_dark_mode_toggle_switches_the_theme(stack, desk):
    # given
    _sign_in(desk, stack)
    desk.goto(stack.url + "/admin/clinic/patient/")
    light = _style(desk, "body", "background-color")
    # when: Django's toggle cycles auto → light → dark (Chromium: light system)
    for _ in range(3):
        if desk.evaluate("document.documentElement.dataset.theme") == "dark":
            break
        desk.click("#header .theme-toggle")
    # then
    assert desk.evaluate("document.documentElement.dataset.theme") == "dark"
    dark = _style(desk, "body", "background-color")
    assert dark == "rgb(13, 17, 23)" != light
    screenshot(desk, "admin-theme-patients-desk-dark")
    desk.reload()  # the choice is kept (localStorage), as Django does
    assert _style(desk, "body", "background-color") == dark


def test_sidebar_by_task_filters_and_list_filters(stack, desk):
    # given
    _sign_in(desk, stack)
    desk.goto(stack.url + "/admin/clinic/appointment/")
    sidebar = desk.locator("#nav-sidebar")
    assert sidebar.locator(".task-patients .current-model").count() == 1
    # when: the sidebar's filter box narrows the models shown
    desk.fill("#nav-filter", "patient")
    # then
    visible = sidebar.locator("tr:visible th a")
    names = [visible.nth(i).inner_text() for i in range(visible.count())]
    assert names
    assert all("patient" in n.casefold() for n in names), names
    # when: a list filter is chosen
    first = desk.locator("#changelist-filter li:not(.selected) a").nth(1)
    with desk.expect_navigation():
        first.click()
    # then
    assert "?" in desk.url
    assert desk.locator("#changelist-filter li.selected").count() >= 1


@pytest.mark.parametrize("phone", ["fr"], indirect=True)
def test_admin_pages_in_the_theme_at_phone_width(stack, phone):
    # given
    conversation = _conversation(stack)
    _sign_in(phone, stack)
    # when / then
    for name, url in _pages(conversation):
        phone.goto(stack.url + url)
        screenshot(phone, f"admin-theme-{name}-phone-fr")
        # A wide table scrolls inside its card, never the page.
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (name, width)

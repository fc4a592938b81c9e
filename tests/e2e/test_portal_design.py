"""The portal's design at phone and desk widths (issue 19): on a phone, a tab
bar fixed to the bottom of the screen with at most five labelled tabs of 44
px or more, the current one marked; at a desk, the same tabs in the header.
axe-core checks each page; the screenshots are for a person to look at."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import (
    PHONE,
    WIDTHS,
    axe_check,
    new_page,
    portal_sign_in,
    screenshot,
)

pytestmark = pytest.mark.e2e
PAGES = [
    ("/portal/", "home", "home"),
    ("/portal/inbox/", "inbox", "inbox"),
    ("/portal/appointments/", "appointments", "appointments"),
    ("/portal/preferences/", "preferences", "preferences"),
    ("/portal/more/", "more", "more"),
    ("/portal/data/", "data", "more"),
]
SUBJECTS = {
    "fr": ("Vos résultats sont disponibles", "Rappel : vaccin contre la grippe"),
    "en": ("Your results are available", "Reminder: flu vaccination"),
}


def _tabs_on_a_phone(page) -> None:
    nav = page.locator("nav.tabbar")
    box = nav.bounding_box()
    # fixed to the bottom of the screen, whatever the scroll
    page.mouse.wheel(0, 2000)
    assert abs(nav.bounding_box()["y"] + box["height"] - PHONE["height"]) <= 1
    links = nav.locator("a")
    assert 1 <= links.count() <= 5
    for n in range(links.count()):
        link = links.nth(n)
        size = link.bounding_box()
        assert size["height"] >= 44, size
        assert size["width"] >= 44, size
        assert link.locator(".tab-label").is_visible()
    page.mouse.wheel(0, -2000)


def _tabs_at_a_desk(page) -> None:
    nav = page.locator("header nav.tabbar")
    assert nav.bounding_box()["y"] < 80  # in the header
    assert nav.locator("a").count() <= 5
    # signing out is one click away on every page
    assert page.locator("header .header-sign-out button").is_visible()


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_portal_pages_at_phone_and_desk(stack, browser, lang):
    data = stack.stage("conversation", "--lang", lang)
    patient = str(data["patient"])
    for subject in SUBJECTS[lang]:
        stack.stage("send", "--patient", patient, "--text", subject)
    for days in ("2", "16"):
        stack.stage("appointment", "--patient", patient, "--days", days)
    phone_context, phone = new_page(browser, language=lang, **WIDTHS["phone"])
    portal_sign_in(phone, stack, data["username"], data["password"], data["code"])
    desk_context, desk = new_page(
        browser,
        language=lang,
        storage_state=phone_context.storage_state(),
        **WIDTHS["desk"],
    )
    try:
        for path, name, tab in PAGES:
            for width, page, check in (
                ("phone", phone, _tabs_on_a_phone),
                ("desk", desk, _tabs_at_a_desk),
            ):
                page.goto(stack.url + path)
                assert page.locator("html").get_attribute("lang") == lang
                current = page.locator("nav.tabbar a[aria-current='page']")
                assert current.count() == 1
                assert current.get_attribute("data-tab") == tab
                check(page)
                axe_check(page, f"design-{name}-{width}-{lang}")
                screenshot(page, f"design-{name}-{width}-{lang}")
        # the More tab leads to the rest, and to signing out on a phone
        phone.goto(stack.url + "/portal/")
        with phone.expect_navigation():
            phone.locator("nav.tabbar a[data-tab='more']").click()
        assert phone.locator("main a[data-more='data']").is_visible()
        assert not phone.locator("header .header-sign-out").is_visible()
        with phone.expect_navigation():
            phone.locator("main form[action='/accounts/logout/'] button").click()
        assert phone.url.endswith("/portal/signed-out/"), phone.url
    finally:
        desk_context.close()
        phone_context.close()
    assert not phone.errors, f"browser errors: {phone.errors}"
    assert not desk.errors, f"browser errors: {desk.errors}"

"""Irreversible requests on *My data* go through a page that says what will
happen, and a pending erasure request is withdrawn from the portal; staff
then cannot carry it out (issue 18, item 5). In French and English, on a
phone, with axe-core on the confirmation pages."""

from __future__ import annotations

import pytest

from clinic.demo_data import DEMO_PASSWORD
from tests.e2e.conftest import admin_sign_in, page_check, portal_sign_in, screenshot

pytestmark = pytest.mark.e2e
TEXT = {
    "fr": {
        "kept": "Ce qui est conservé, parce que la loi l’exige",
        "not_yet": "Rien n’est encore effacé",
        "withdrawn": "Votre demande d’effacement est retirée.",
        "unchanged": "Ce qui ne change pas",
        "objecting": "vous vous opposez au traitement automatisé",
    },
    "en": {
        "kept": "What is kept, because the law requires it",
        "not_yet": "Nothing is erased yet",
        "withdrawn": "Your erasure request is withdrawn.",
        "unchanged": "What does not change",
        "objecting": "you object to automated processing",
    },
}


def _submit(page, form_selector: str) -> None:
    with page.expect_navigation():
        page.locator(form_selector).locator("button[type=submit]").click()


def _open(page, link_selector: str) -> None:
    with page.expect_navigation():
        page.click(link_selector)


_check = page_check


def _erasure_asked_then_withdrawn(page, stack, data: dict, lang: str) -> dict:
    patient = str(data["patient"])
    page.goto(stack.url + "/portal/data/")
    # The button of My data only opens the confirmation page.
    _open(page, "main a[href$='/portal/data/erasure/']")
    assert page.url.endswith("/portal/data/erasure/")
    assert TEXT[lang]["kept"] in page.locator("main").inner_text()
    _check(page, "data-erasure-confirm", lang)
    assert stack.stage("rights", "--patient", patient)["erasure"] == []

    _submit(page, "main form[action$='/portal/data/erasure/']")
    assert page.url.endswith("/portal/data/")
    assert TEXT[lang]["not_yet"] in page.locator("main").inner_text()
    _check(page, "data-erasure-pending", lang)
    [pending] = stack.stage("rights", "--patient", patient)["erasure"]
    assert pending["status"] == "open"

    # Withdrawing asks first, on a page of its own.
    _open(page, "main a[href$='/withdraw/']")
    assert stack.stage("rights", "--patient", patient)["erasure"][0]["status"] == "open"
    _check(page, "data-erasure-withdraw-confirm", lang)
    _submit(page, "main form[action$='/withdraw/']")
    assert TEXT[lang]["withdrawn"] in page.locator("main").inner_text()
    [withdrawn] = stack.stage("rights", "--patient", patient)["erasure"]
    assert withdrawn["status"] == "withdrawn"
    assert withdrawn["withdrawn_by"] == data["username"]
    # Asking again starts from the confirmation page once more.
    assert page.locator("main a[href$='/portal/data/erasure/']").count() == 1
    return withdrawn


def _objection_confirmed_then_lifted(page, stack, data: dict, lang: str) -> None:
    patient = str(data["patient"])
    _open(page, "main a[href$='/portal/data/objection/']")
    assert TEXT[lang]["unchanged"] in page.locator("main").inner_text()
    _check(page, "data-objection-confirm", lang)
    assert stack.stage("rights", "--patient", patient)["objects"] is False

    _submit(page, "main form[action$='/portal/data/objection/']")
    assert TEXT[lang]["objecting"] in page.locator("main").inner_text()
    assert stack.stage("rights", "--patient", patient)["objects"] is True

    _open(page, "main a[href$='/portal/data/objection/lift/']")
    assert stack.stage("rights", "--patient", patient)["objects"] is True
    _check(page, "data-objection-lift-confirm", lang)
    _submit(page, "main form[action$='/portal/data/objection/lift/']")
    assert stack.stage("rights", "--patient", patient)["objects"] is False


def _staff_cannot_erase(desk, stack, data: dict, withdrawn: dict) -> None:
    code = stack.stage("staff-code", "--username", "lilas.admin")["code"]
    admin_sign_in(desk, stack, "lilas.admin", DEMO_PASSWORD, code)
    desk.goto(stack.url + "/admin/consent/erasurerequest/")
    row = desk.locator(
        "#result_list tr",
        has=desk.locator(f"input.action-select[value='{withdrawn['pk']}']"),
    )
    assert "Withdrawn" in row.inner_text()
    row.locator("input.action-select").check()
    desk.select_option("select[name=action]", "erase_now")
    with desk.expect_navigation():
        desk.click("button[name=index]")
    assert "withdrawn or already handled" in desk.locator(".messagelist").inner_text()
    screenshot(desk, "admin-erasure-withdrawn")
    rights = stack.stage("rights", "--patient", str(data["patient"]))
    assert rights["erasure"][0]["status"] == "withdrawn"
    assert rights["erased"] is False


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_erasure_and_objection_are_confirmed_and_withdrawn(stack, phone, desk, lang):
    data = stack.stage("conversation", "--lang", lang)
    portal_sign_in(phone, stack, data["username"], data["password"], data["code"])
    withdrawn = _erasure_asked_then_withdrawn(phone, stack, data, lang)
    _objection_confirmed_then_lifted(phone, stack, data, lang)
    _staff_cannot_erase(desk, stack, data, withdrawn)

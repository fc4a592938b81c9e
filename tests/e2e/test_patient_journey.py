"""A patient's first visit, in French and in English, on a phone: enrol from
the invitation in the outbox, sign in with an email code, read a message that
arrives while the inbox is open, reply, confirm an appointment, change a
preference, download their data and sign out from the tab bar's More page.
axe-core checks every page on the way; test_walk.py opens every other page, at
both widths.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.e2e.conftest import page_check
from tests.e2e.stage import PREPARATION

pytestmark = pytest.mark.e2e
PASSWORD = "Un-mot-de-passe-solide-42"
LANGUAGES = ["fr", "en"]


def _visit(page, stack, path: str, name: str, lang: str) -> None:
    page.goto(stack.url + path)
    _check(page, name, lang)


_check = page_check


def _submit(page, form_selector: str) -> None:
    with page.expect_navigation():
        page.locator(form_selector).locator("button[type=submit]").first.click()


def _enrol(page, stack, patient: dict, lang: str) -> None:
    invitation = stack.outbox_wait(patient["email"])
    link = re.search(r"https?://\S+/portal/enrol/\S+?/", invitation["body"])
    assert link, "the invitation carries an enrolment link"
    path = link.group(0).split("/portal/", 1)[1]
    _visit(page, stack, f"/portal/{path}", "enrol", lang)
    page.fill("input[name=birth_date]", patient["birth_date"])
    page.fill("input[name=username]", patient["username"])
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    _submit(page, "form:has(input[name=birth_date])")
    # Signed in, but no second factor yet: the portal asks for one.
    assert "/portal/security/" in page.url
    _check(page, "security-devices", lang)
    page.click("a[href$='/security/email/']")
    _check(page, "security-email-add", lang)
    _submit(page, "form:has(input[name=action][value=send])")
    code, _ = stack.code_wait(patient["email"], after=invitation["id"])
    page.fill("input[name=token]", code)
    _submit(page, "form:has(input[name=token])")


def _sign_in(page, stack, patient: dict, lang: str) -> None:
    last = stack.outbox_wait(patient["email"])["id"]
    _visit(page, stack, "/accounts/login/", "login", lang)
    assert page.locator("a[href='/verify/']").count() == 1, "login links /verify/"
    page.fill("input[name=login]", patient["username"])
    page.fill("input[name=password]", PASSWORD)
    _submit(page, "form:has(input[name=password])")
    assert "/portal/security/verify/" in page.url
    _check(page, "security-verify", lang)
    _submit(page, "form:has(input[name=action][value=send])")
    code, _ = stack.code_wait(patient["email"], after=last)
    page.fill("input[name=token]", code)
    _submit(page, "form:has(input[name=token])")
    assert page.url.rstrip("/").endswith("/portal")
    _check(page, "home", lang)


def _live_message(page, stack, patient: dict, lang: str) -> None:
    _visit(page, stack, "/portal/inbox/", "inbox", lang)
    # A marker that a reload would wipe: the message must arrive without one.
    page.evaluate("window.__stillTheSamePage = true")
    text = f"Live {lang} message"
    stack.stage("send", "--patient", str(patient["patient"]), "--text", text)
    link = page.locator("#inbox-list a", has_text=text)
    link.wait_for(timeout=20_000)
    assert page.evaluate("window.__stillTheSamePage") is True
    with page.expect_navigation():
        link.click()
    assert page.locator("main").inner_text().count(text) >= 1
    _check(page, "message", lang)
    reply = f"Reply {lang} from the browser"
    page.fill("textarea[name=text]", reply)
    _submit(page, "form:has(textarea[name=text])")
    assert (
        reply in stack.stage("state", "--patient", str(patient["patient"]))["inbound"]
    )


CARD_WORDS = {
    "fr": ("Confirmer", "Ajouter à mon agenda", "Annuler ce rendez-vous"),
    "en": ("Confirm", "Add to my calendar", "Cancel this appointment"),
}


VISIT_TYPE = {"fr": "Consultation de médecine générale", "en": "General consultation"}


def _confirm_appointment(page, stack, patient: dict, lang: str) -> None:
    _visit(page, stack, "/portal/appointments/", "appointments", lang)
    card = page.locator("li.appointment.card")
    assert card.count() == 1
    # Who, what, where (with the address) and how to prepare.
    assert card.locator(".appointment-practitioner").inner_text().strip()
    # The demo clinic's catalogue names the booking system's "consultation".
    assert card.locator(".appointment-kind").inner_text() == VISIT_TYPE[lang]
    assert "75020 Paris" in card.locator(".appointment-place address").inner_text()
    assert card.locator(".appointment-preparation").inner_text() == PREPARATION
    # One primary action; calendar and cancel are separate controls.
    confirm, calendar, cancel = CARD_WORDS[lang]
    assert card.locator(".primary").count() == 1
    assert card.locator("button.primary").inner_text() == confirm
    assert card.locator("a.appointment-calendar").inner_text() == calendar
    assert card.locator("a.appointment-cancel").inner_text() == cancel
    with page.expect_download() as download:
        card.locator("a.appointment-calendar").click()
    with open(download.value.path(), encoding="utf-8", newline="") as ics:
        unfolded = ics.read().replace("\r\n ", "")
    assert "LOCATION:Lilas Belleville\\, 12 rue des Lilas\\, 75020 Paris" in unfolded
    assert f"DESCRIPTION:{PREPARATION}" in unfolded
    _submit(page, "form[action$='/confirm/']")
    _check(page, "appointments-confirmed", lang)
    state = stack.stage("state", "--patient", str(patient["patient"]))
    assert state["appointments"] == ["confirmed"]


def _change_preference(page, stack, patient: dict, lang: str) -> None:
    before = stack.stage("state", "--patient", str(patient["patient"]))
    _visit(page, stack, "/portal/preferences/", "preferences", lang)
    box = page.locator(
        "form:has(input[name=form][value=consent]) input[type=checkbox]:not([disabled])"
    ).first
    was = box.is_checked()
    box.set_checked(not was)
    _submit(page, "form:has(input[name=form][value=consent])")
    _check(page, "preferences-saved", lang)
    after = stack.stage("state", "--patient", str(patient["patient"]))
    assert after["consent_events"] == before["consent_events"] + 1


def _download_data(page, stack, patient: dict, lang: str) -> None:
    _visit(page, stack, "/portal/data/", "data", lang)
    with page.expect_download() as download:
        page.click("a[href$='/data/export.json']")
    with open(download.value.path(), encoding="utf-8") as exported:
        data = json.load(exported)
    assert patient["email"] in json.dumps(data)
    _visit(page, stack, "/portal/data/access/", "data-access", lang)


def _sign_out(page, stack, lang: str) -> None:
    """From the tab bar's "More" page, on a phone a family shares."""
    _visit(page, stack, "/portal/inbox/", "inbox-before-sign-out", lang)
    with page.expect_navigation():
        page.locator("nav.tabbar a[href$='/portal/more/']").click()
    _check(page, "more", lang)
    with page.expect_navigation():
        page.locator("main form[action='/accounts/logout/'] button").click()
    assert page.url.endswith("/portal/signed-out/"), page.url
    _check(page, "signed-out", lang)
    page.goto(stack.url + "/portal/inbox/")
    assert "/accounts/login/" in page.url, "signed out: the inbox asks to sign in"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_patient_journey(stack, phone, lang):
    patient = stack.stage("prepare", "--lang", lang)
    page = phone
    _enrol(page, stack, patient, lang)
    page.context.clear_cookies()
    _sign_in(page, stack, patient, lang)
    _live_message(page, stack, patient, lang)
    _confirm_appointment(page, stack, patient, lang)
    _change_preference(page, stack, patient, lang)
    _download_data(page, stack, patient, lang)
    _sign_out(page, stack, lang)

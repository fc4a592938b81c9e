"""A staff member answers an inbound SMS from the conversation view, and the
patient sees the answer arrive live in the portal (issue 8).

Two browsers: the patient on a phone, signed in to the portal with its inbox
open; the support staff member at a desk, in admin. The SMS comes in through
the same function as the provider's webhook (``stage sms-in``, in another
process: the staff page learns about the second one through the channel layer
with Redis, or its fingerprint poll without), and is marked as new there.
"""

from __future__ import annotations

import pytest

from clinic.demo_data import DEMO_PASSWORD
from tests.e2e.conftest import admin_sign_in, portal_sign_in, screenshot

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("phone", ["fr"], indirect=True)
def test_staff_answer_an_inbound_sms_and_the_patient_sees_it_live(stack, phone, desk):
    # given: a patient who wrote by SMS, with the portal inbox open
    data = stack.stage("conversation", "--lang", "fr")
    patient = str(data["patient"])
    question = "Bonjour, puis-je venir plus tôt jeudi ?"
    conversation = stack.stage("sms-in", "--patient", patient, "--text", question)
    portal_sign_in(phone, stack, data["username"], data["password"], data["code"])
    phone.goto(stack.url + "/portal/inbox/")
    phone.locator("#inbox-list .inbox-item").first.wait_for()
    assert phone.locator("#inbox-list .inbox-item.is-unread").count() == 0
    # A marker that a reload would wipe: the answer must arrive without one.
    phone.evaluate("window.__stillTheSamePage = true")

    # when: the staff member opens the conversation, sees a second SMS arrive
    # live, and answers
    admin_sign_in(desk, stack, data["staff"], DEMO_PASSWORD, data["staff_code"])
    desk.goto(
        f"{stack.url}/admin/messaging/conversation/"
        f"{conversation['conversation']}/conversation/"
    )
    thread = desk.locator("[data-thread]")
    assert question in thread.inner_text()
    desk.locator("[data-conversation-live][data-live=connected]").wait_for()
    desk.evaluate("window.__stillTheSamePage = true")
    follow_up = "Vers 9 h si possible."
    stack.stage("sms-in", "--patient", patient, "--text", follow_up)
    desk.locator("[data-thread] .thread-body", has_text=follow_up).wait_for()
    assert desk.evaluate("window.__stillTheSamePage") is True
    # The new message is marked and announced once (not the whole thread).
    arrived = desk.locator("[data-thread] .thread-item.is-new")
    assert arrived.count() == 1
    assert follow_up in arrived.inner_text()
    status = desk.locator("[data-live-status]")
    assert status.inner_text() == status.get_attribute("data-text-new") != ""
    assert desk.locator("[data-conversation-live][aria-live]").count() == 0
    answer = "Bonjour Alex, oui : venez jeudi à 9 h."
    desk.fill("textarea[name=text]", answer)
    with desk.expect_navigation():
        desk.click(".reply-form input[type=submit]")
    assert answer in desk.locator("[data-thread]").inner_text()
    screenshot(desk, "staff-conversation")

    # then: the patient's inbox shows the answer without a reload
    line = phone.locator("#inbox-list .inbox-item.is-unread a")
    line.wait_for(timeout=20_000)
    assert phone.evaluate("window.__stillTheSamePage") is True
    with phone.expect_navigation():
        line.click()
    assert answer in phone.locator("main").inner_text()
    screenshot(phone, "staff-answer-in-portal-fr")

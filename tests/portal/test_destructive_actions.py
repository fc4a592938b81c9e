"""Destructive actions in the portal (issue 19): never one tap. Each page
offers a link, styled as destructive and never as the primary action, to a
page that says what happens; only that page's form does it. And each card
has one primary action at most."""

import datetime
from urllib.parse import urlsplit

import pytest

from django.urls import reverse
from django.utils import timezone

from clinic.models import Appointment
from consent.gdpr.objection import (
    object_to_automation,
    patient_objects_to_automation,
)
from consent.models import ConsentEvent, ErasureRequest
from consent.requests.services import erasure_request_create
from consent.vocabulary import Source
from outreach.waitlist.models import WaitlistEntry
from portal.contact_points.models import ContactPointChange
from tests.clinic.factories import AppointmentFactory
from tests.portal.html_support import is_filled, parse
from tests.portal.inbox_support import inbox_message

pytestmark = pytest.mark.django_db


def _path(url: str) -> str:
    return urlsplit(url).path


def _hidden_fields(form) -> dict:
    return {
        i.attrs["name"]: i.attrs.get("value", "")
        for i in form.find_all("input")
        if i.attrs.get("type") == "hidden" and i.attrs.get("name")
    }


def _does_it(form, page: str, action: str, extra: dict | None) -> bool:
    if _path(form.attrs.get("action", page)) != action:
        return False
    # A page may post other things to the same URL (the contact change page:
    # a new code, the code itself); the hidden "action" field tells them apart.
    wanted = (extra or {}).get("action")
    return wanted is None or _hidden_fields(form).get("action") == wanted


def assert_confirmed(client, page: str, action: str, done, extra=None) -> None:
    """On ``page`` the control for ``action`` is a destructive-looking link,
    not a form; its page changes nothing and holds the one form that does."""
    root = parse(client.get(page).text)
    one_tap = [
        form for form in root.find_all("form") if _does_it(form, page, action, extra)
    ]
    assert not one_tap, "a form does it from the page itself"
    controls = [a for a in root.find_all("a") if _path(a.attrs["href"]) == action]
    assert controls, f"no control for {action} on {page}"
    for control in controls:
        assert not is_filled(control)
        assert "primary" not in control.classes
        assert control.classes & {"danger", "appointment-cancel"}
    # when: the patient taps it
    confirmation = client.get(controls[0].attrs["href"])
    # then: a page that asks, nothing done yet
    assert confirmation.status_code == 200
    assert not done()
    [form] = [
        form
        for form in parse(confirmation.text).find_all("form")
        if _path(form.attrs.get("action", action)) == action
        and form.attrs.get("method") == "post"
    ]
    [yes] = form.find_all("button")
    assert "danger-fill" in yes.classes
    # and a way back that does nothing
    assert parse(confirmation.text).find_all("main")[0].find_all("a", "secondary")
    if extra is None:
        return
    # and its form does it
    client.post(action, {**_hidden_fields(form), **extra})
    assert done()


def test_cancelling_an_appointment(patient_client, patient_user):
    starts = timezone.now() + datetime.timedelta(days=5)
    appointment = AppointmentFactory(
        patient=patient_user[1],
        starts_at=starts,
        ends_at=starts + datetime.timedelta(minutes=30),
    )

    def done():
        appointment.refresh_from_db()
        return appointment.status == Appointment.Status.CANCELLED

    assert_confirmed(
        patient_client,
        reverse("portal:appointments"),
        reverse("portal:appointment_cancel", args=[appointment.public_id]),
        done,
        extra={"reason": ""},
    )


def test_leaving_the_waitlist(patient_client, patient_user):
    _, patient = patient_user
    entry = WaitlistEntry.objects.create(
        organization=patient.organization,
        patient=patient,
        earliest=datetime.date(2026, 1, 1),
        latest=datetime.date(2026, 12, 31),
    )

    def done():
        entry.refresh_from_db()
        return entry.status == WaitlistEntry.Status.WITHDRAWN

    assert_confirmed(
        patient_client,
        reverse("portal:waitlist"),
        reverse("portal:waitlist_leave", args=[entry.public_id]),
        done,
        extra={},
    )


def test_stopping_a_purpose_from_a_message(patient_client, patient_user):
    message = inbox_message(patient_user[1], purpose="marketing")
    assert_confirmed(
        patient_client,
        reverse("portal:inbox_message", args=[message.public_id]),
        reverse("portal:inbox_object", args=[message.public_id]),
        lambda: ConsentEvent.objects.filter(
            action=ConsentEvent.Action.WITHDRAWN
        ).exists(),
        extra={},
    )


def test_a_care_message_has_nothing_to_confirm(patient_client, patient_user):
    message = inbox_message(patient_user[1], purpose="care")
    url = reverse("portal:inbox_object", args=[message.public_id])
    response = patient_client.get(url)
    assert response.status_code == 302
    assert response.url == reverse("portal:inbox_message", args=[message.public_id])
    assert not ConsentEvent.objects.exists()


def test_withdrawing_an_erasure_request(patient_client, patient_user):
    user, patient = patient_user
    pending = erasure_request_create(patient=patient, requested_by=user)

    def done():
        pending.refresh_from_db()
        return pending.status == ErasureRequest.Status.WITHDRAWN

    assert_confirmed(
        patient_client,
        reverse("portal:data"),
        reverse("portal:data_erasure_withdraw", args=[pending.public_id]),
        done,
        extra={},
    )


def test_lifting_an_objection(patient_client, patient_user):
    user, patient = patient_user
    object_to_automation(
        patient=patient, objects=True, actor=user, source=Source.PORTAL
    )
    assert_confirmed(
        patient_client,
        reverse("portal:data"),
        reverse("portal:data_objection_lift"),
        lambda: not patient_objects_to_automation(patient=patient),
        extra={},
    )


def test_lifting_without_an_objection_goes_back(patient_client):
    response = patient_client.get(reverse("portal:data_objection_lift"))
    assert response.status_code == 302
    assert response.url == reverse("portal:data")


def test_cancelling_a_contact_change(patient_client, patient_user):
    change = ContactPointChange.objects.create(
        patient=patient_user[1], kind="email", new_value="new@example.net"
    )

    def done():
        change.refresh_from_db()
        return change.status == ContactPointChange.Status.CANCELLED

    assert_confirmed(
        patient_client,
        reverse("portal:contact_confirm", args=[change.public_id]),
        reverse("portal:contact_confirm", args=[change.public_id]),
        done,
        extra={"action": "cancel"},
    )


def test_asking_for_erasure_is_confirmed_on_its_own_page(patient_client):
    assert_confirmed(
        patient_client,
        reverse("portal:data"),
        reverse("portal:data_erasure"),
        lambda: ErasureRequest.objects.exists(),
    )


@pytest.mark.parametrize(
    "page",
    [
        "portal:home",
        "portal:inbox",
        "portal:appointments",
        "portal:waitlist",
        "portal:preferences",
        "portal:data",
        "portal:more",
        "portal:auth_devices",
    ],
)
def test_each_card_has_one_primary_action_at_most(patient_client, patient_user, page):
    # given: something in every card
    _, patient = patient_user
    starts = timezone.now() + datetime.timedelta(days=5)
    AppointmentFactory(
        patient=patient,
        starts_at=starts,
        ends_at=starts + datetime.timedelta(minutes=30),
    )
    inbox_message(patient, purpose="marketing")
    # when
    root = parse(patient_client.get(reverse(page)).text)
    # then
    cards = root.find_all(cls="card")
    assert cards, f"no card on {page}"
    for card in cards:
        filled = [e for e in card.iter() if is_filled(e)]
        assert len(filled) <= 1, (page, [e.text for e in filled])

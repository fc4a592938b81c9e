"""Privacy from a parent's proxy, for appointments and the data a caregiver
can download: hidden items are absent and 404 for the people acting for the
patient; the patient still sees and uses everything."""

import datetime
import json

import pytest

from django.urls import reverse
from django.utils import timezone

from clinic.models import AccessAudit, Appointment, Caregiver
from clinic.services import access_audit_record
from consent.models import SendRecord
from tests.clinic.factories import (
    AppointmentFactory,
    CaregiverFactory,
    UserFactory,
)
from tests.portal.privacy_support import (
    HIDDEN_MARK,
    _act_for,
    _login,
    _message,
    _patient,
)

pytestmark = pytest.mark.django_db


# --- appointments -----------------------------------------------------------


@pytest.fixture
def hidden_appointment(client, teen):
    appointment = AppointmentFactory(patient=teen, kind="SECRET-KIND")
    _login(client, teen.user).post(
        reverse("portal:appointment_hide", args=[appointment.public_id])
    )
    appointment.refresh_from_db()
    return appointment


def test_a_hidden_appointment_is_absent_and_404_for_the_parent(
    client, parent, hidden_appointment
):
    # given
    args = [hidden_appointment.public_id]
    assert hidden_appointment.hidden_from_proxies_at is not None
    _act_for(client, parent)
    # when
    listing = client.get(reverse("portal:appointments"))
    # then
    assert listing.status_code == 200
    assert listing.context["upcoming"] == []
    assert str(hidden_appointment.public_id) not in listing.text
    assert (
        client.post(reverse("portal:appointment_confirm", args=args)).status_code == 404
    )
    assert (
        client.get(reverse("portal:appointment_cancel", args=args)).status_code == 404
    )
    assert (
        client.post(reverse("portal:appointment_cancel", args=args)).status_code == 404
    )
    ics = client.get(reverse("portal:appointment_calendar", args=args))
    assert ics.status_code == 404
    hidden_appointment.refresh_from_db()
    assert hidden_appointment.status == Appointment.Status.BOOKED


def test_a_hidden_past_appointment_is_absent_for_the_parent(client, teen, parent):
    starts = timezone.now() - datetime.timedelta(days=3)
    past = AppointmentFactory(
        patient=teen,
        starts_at=starts,
        ends_at=starts + datetime.timedelta(minutes=30),
        hidden_from_proxies_at=timezone.now(),
    )
    own = _login(client, teen.user).get(reverse("portal:appointments"))
    assert own.context["past"] == [past]
    assert HIDDEN_MARK in own.text
    _act_for(client, parent)
    assert past not in client.get(reverse("portal:appointments")).context["past"]


def test_the_patient_still_sees_and_uses_a_hidden_appointment(
    client, teen, hidden_appointment
):
    # given
    args = [hidden_appointment.public_id]
    before = Appointment.objects.get(pk=hidden_appointment.pk).updated_at
    # when
    listing = client.get(reverse("portal:appointments"))
    ics = client.get(reverse("portal:appointment_calendar", args=args))
    # then
    assert listing.context["upcoming"] == [hidden_appointment]
    assert HIDDEN_MARK in listing.text
    assert reverse("portal:appointment_unhide", args=args) in listing.text
    assert ics.status_code == 200
    # the reminder's one-tap links stay valid: hiding left updated_at alone
    assert hidden_appointment.updated_at == before
    confirm = client.post(reverse("portal:appointment_confirm", args=args))
    assert confirm.status_code == 302
    assert Appointment.objects.get(pk=hidden_appointment.pk).status == "confirmed"


def test_unhiding_an_appointment_restores_it_for_the_parent(
    client, teen, parent, hidden_appointment
):
    # given
    args = [hidden_appointment.public_id]
    # when
    client.post(reverse("portal:appointment_unhide", args=args))
    # then
    _act_for(client, parent)
    listing = client.get(reverse("portal:appointments"))
    assert listing.context["upcoming"] == [hidden_appointment]
    assert HIDDEN_MARK not in listing.text
    ics = client.get(reverse("portal:appointment_calendar", args=args))
    assert ics.status_code == 200


def test_a_patient_under_15_cannot_hide_an_appointment(client, organization):
    # given
    child = _patient(organization, 14, "child")
    appointment = AppointmentFactory(patient=child)
    _login(client, child.user)
    # when
    listing = client.get(reverse("portal:appointments"))
    response = client.post(
        reverse("portal:appointment_hide", args=[appointment.public_id])
    )
    # then
    hide_url = reverse("portal:appointment_hide", args=[appointment.public_id])
    assert hide_url not in listing.text
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.hidden_from_proxies_at is None


def test_the_appointment_controls_are_offered_from_15(client, teen):
    appointment = AppointmentFactory(patient=teen)
    listing = _login(client, teen.user).get(reverse("portal:appointments"))
    hide_url = reverse("portal:appointment_hide", args=[appointment.public_id])
    assert hide_url in listing.text


def test_a_caregiver_cannot_hide_or_unhide_an_appointment(client, teen, parent):
    # given
    visible = AppointmentFactory(patient=teen)
    hidden = AppointmentFactory(patient=teen, hidden_from_proxies_at=timezone.now())
    _act_for(client, parent)
    # when
    listing = client.get(reverse("portal:appointments"))
    responses = [
        client.post(reverse(f"portal:appointment_{action}", args=[a.public_id]))
        for action in ("hide", "unhide")
        for a in (visible, hidden)
    ]
    # then
    assert "appointment_hide" not in listing.text
    assert reverse("portal:appointment_hide", args=[visible.public_id]) not in (
        listing.text
    )
    assert [r.status_code for r in responses] == [404] * 4
    assert Appointment.objects.get(pk=visible.pk).hidden_from_proxies_at is None
    assert Appointment.objects.get(pk=hidden.pk).hidden_from_proxies_at is not None


# --- my data ----------------------------------------------------------------


@pytest.fixture
def guardian_with_every_scope(teen):
    return CaregiverFactory(
        user=UserFactory(username="guardian"),
        patient=teen,
        relationship=Caregiver.Relationship.LEGAL_GUARDIAN,
        can_see_appointments=True,
        can_see_messages=True,
        can_see_results=True,
        can_manage_preferences=True,
    )


@pytest.fixture
def hidden_items(teen):
    message = _message(
        teen, subject="SECRET-SUBJECT", hidden_from_proxies_at=timezone.now()
    )
    SendRecord.objects.create(
        patient=teen,
        topic=message.topic,
        purpose="care",
        channel="sms",
        message_key=str(message.public_id),
        sent_at=message.created_at,
    )
    appointment = AppointmentFactory(
        patient=teen, kind="SECRET-KIND", hidden_from_proxies_at=timezone.now()
    )
    access_audit_record(
        patient=teen,
        action=AccessAudit.Action.VIEW_MESSAGE,
        actor=UserFactory(username="dr"),
        detail=f"message {message.public_id}",
    )
    visible = AppointmentFactory(patient=teen, kind="check-up")
    return message, appointment, visible


def test_a_caregivers_export_leaves_hidden_items_out(
    client, guardian_with_every_scope, hidden_items
):
    # given
    message, appointment, visible = hidden_items
    _act_for(client, guardian_with_every_scope)
    # when
    document = json.loads(client.get("/portal/data/export.json").content)
    bundle = json.loads(client.get("/portal/data/export.fhir.json").content)
    # then
    text = json.dumps([document, bundle])
    assert "SECRET" not in text
    assert str(message.public_id) not in text
    assert str(appointment.public_id) not in text
    assert [a["public_id"] for a in document["appointments"]] == [
        str(visible.public_id)
    ]
    assert document["communications"] == []
    ids = {entry["resource"]["id"] for entry in bundle["entry"]}
    assert str(visible.public_id) in ids
    assert not any(
        e["resource"]["resourceType"] == "Communication" for e in bundle["entry"]
    )


def test_a_caregivers_access_log_leaves_hidden_items_out(
    client, guardian_with_every_scope, hidden_items
):
    _act_for(client, guardian_with_every_scope)
    response = client.get("/portal/data/access/")
    assert response.status_code == 200
    assert str(hidden_items[0].public_id) not in response.text
    assert not any(
        entry.action == AccessAudit.Action.VIEW_MESSAGE
        for entry in response.context["page"]
    )


def test_the_patients_own_export_keeps_everything(client, teen, hidden_items):
    message, appointment, _ = hidden_items
    _login(client, teen.user)
    document = json.loads(client.get("/portal/data/export.json").content)
    bundle = json.loads(client.get("/portal/data/export.fhir.json").content)
    assert str(message.public_id) in json.dumps(document["messages"])
    assert len(document["appointments"]) == 2
    assert len(document["communications"]) == 1
    assert str(appointment.public_id) in {e["resource"]["id"] for e in bundle["entry"]}

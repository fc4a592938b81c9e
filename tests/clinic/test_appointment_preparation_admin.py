"""Staff write an appointment's preparation notes in admin (the portal and the
calendar file show them to the patient)."""

import datetime

import pytest
import time_machine

from django.urls import reverse

from tests.clinic.factories import AppointmentFactory, PatientFactory

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 12, 7, 9, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False):
        yield


def test_staff_write_preparation_notes_in_admin(staff_client, organization):
    # given
    appointment = AppointmentFactory(patient=PatientFactory(organization=organization))
    url = reverse("admin:clinic_appointment_change", args=[appointment.pk])
    form = {
        "organization": organization.pk,
        "patient": appointment.patient_id,
        "site": appointment.site_id,
        "kind": appointment.kind,
        "starts_at_0": "2026-12-10",
        "starts_at_1": "12:45:00",
        "ends_at_0": "2026-12-10",
        "ends_at_1": "13:15:00",
        "status": "booked",
        "cancellation_reason": "",
        "external_id": "",
    }
    # when
    page = staff_client.get(url).content.decode()
    saved = staff_client.post(
        url, {**form, "preparation_notes": "Bring your vaccination booklet."}
    )
    too_long = staff_client.post(url, {**form, "preparation_notes": "x" * 1001})
    # then
    assert 'name="preparation_notes"' in page
    assert saved.status_code == 302, saved.content
    appointment.refresh_from_db()
    assert appointment.preparation_notes == "Bring your vaccination booklet."
    assert too_long.status_code == 200
    assert too_long.context["adminform"].form.errors["preparation_notes"]

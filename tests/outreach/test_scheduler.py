"""The signal that tells outreach an appointment changed (the finders'
schedules: tests/core/test_scheduler.py)."""

import pytest

from clinic.appointments.actions import appointment_cancel
from clinic.services import appointment_save
from clinic.signals import appointment_changed
from tests.clinic.factories import AppointmentFactory

pytestmark = pytest.mark.django_db


def test_saving_and_cancelling_an_appointment_tell_receivers():
    seen = []

    def receiver(sender, appointment, created, **kwargs):
        seen.append((appointment.pk, created, appointment.status))

    appointment_changed.connect(receiver)
    try:
        existing = AppointmentFactory()  # its patient and site
        appointment = AppointmentFactory.build(
            patient=existing.patient, site=existing.site
        )
        appointment_save(appointment=appointment)
        appointment_cancel(appointment=appointment, reason="")
    finally:
        appointment_changed.disconnect(receiver)
    assert seen == [
        (appointment.pk, True, "booked"),
        (appointment.pk, False, "cancelled"),
    ]

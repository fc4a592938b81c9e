"""A patient's cancellation keeps their reason for staff."""

import pytest

from clinic.appointments.actions import appointment_cancel
from tests.clinic.factories import AppointmentFactory

pytestmark = pytest.mark.django_db


def test_the_cancellation_reason_is_kept(organization):
    appointment = AppointmentFactory(patient__organization=organization)
    appointment_cancel(appointment=appointment, reason="Je suis en déplacement")
    appointment.refresh_from_db()
    assert (appointment.status, appointment.cancellation_reason) == (
        "cancelled",
        "Je suis en déplacement",
    )

"""The one periodic job, and the signal that tells outreach an appointment
changed."""

import pytest
from django_q.models import Schedule

from clinic.appointments.actions import appointment_cancel
from clinic.services import appointment_save
from clinic.signals import appointment_changed
from outreach import scheduler
from tests.clinic.factories import AppointmentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def finders(monkeypatch):
    registered = {}
    monkeypatch.setattr(scheduler, "_finders", registered)
    return registered


def test_one_failing_finder_does_not_stop_the_others(finders):
    def broken(now):
        raise RuntimeError("boom")

    scheduler.register_due("broken", broken)
    scheduler.register_due("fine", lambda now: 3)
    assert scheduler.due_run() == {"broken": -1, "fine": 3}


def test_the_job_is_scheduled_every_minute():
    job = Schedule.objects.get(name="outreach: due")
    assert (job.func, job.schedule_type, job.minutes) == (
        "outreach.tasks.due_run",
        "I",
        1,
    )


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

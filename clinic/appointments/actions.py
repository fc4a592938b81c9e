"""What a patient may do with an appointment: confirm it, cancel it, add it to a
calendar. Staff changes go through ``clinic.services.appointment_save``."""

from __future__ import annotations

import datetime

import icalendar

from django.db import transaction
from django.utils import timezone

from clinic.models import Appointment, AppointmentStatus
from clinic.signals import appointment_changed


class AppointmentActionError(Exception):
    """The appointment cannot take this action now (its status or time)."""


# Where each patient action may start from.
ALLOWED_FROM = {
    "confirm": {AppointmentStatus.BOOKED},
    "cancel": {AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED},
}


def appointment_can(*, appointment: Appointment, action: str, now=None) -> bool:
    """Whether ``action`` ("confirm" or "cancel") is possible for the appointment now."""
    now = now or timezone.now()
    return (
        appointment.status in ALLOWED_FROM.get(action, ())
        and appointment.starts_at > now
    )


def _transition(
    appointment: Appointment,
    action: str,
    status: str,
    unchanged_since: datetime.datetime | None,
    reason: str = "",
) -> Appointment:
    locked = Appointment.objects.select_for_update().get(pk=appointment.pk)
    if unchanged_since is not None and locked.updated_at != unchanged_since:
        raise AppointmentActionError("The appointment changed in the meantime.")
    if not appointment_can(appointment=locked, action=action):
        raise AppointmentActionError(
            f"Cannot {action} an appointment that is {locked.status}"
            f"{' and past' if locked.starts_at <= timezone.now() else ''}."
        )
    previous_status, locked.status = locked.status, status
    locked.cancellation_reason = reason[:300]
    # save() bumps updated_at, which ends every one-tap link issued before.
    locked.save(update_fields=["status", "cancellation_reason", "updated_at"])
    appointment_changed.send(
        sender=Appointment,
        appointment=locked,
        created=False,
        previous_status=previous_status,
    )
    appointment.status, appointment.updated_at = locked.status, locked.updated_at
    appointment.cancellation_reason = locked.cancellation_reason
    return appointment


@transaction.atomic
def appointment_confirm(
    *, appointment: Appointment, unchanged_since: datetime.datetime | None = None
) -> Appointment:
    """Confirm a booked, future appointment; returns it updated.

    Raises AppointmentActionError for any other status, a past appointment, or
    (with ``unchanged_since``) an appointment updated since that moment.
    """
    return _transition(
        appointment, "confirm", AppointmentStatus.CONFIRMED, unchanged_since
    )


@transaction.atomic
def appointment_cancel(
    *,
    appointment: Appointment,
    reason: str = "",
    unchanged_since: datetime.datetime | None = None,
) -> Appointment:
    """Cancel a booked or confirmed, future appointment; returns it updated.

    ``reason`` is the patient's own words, kept on the appointment for staff;
    it must never be logged, as it may be clinical. Raises
    AppointmentActionError as ``appointment_confirm`` does.
    """
    return _transition(
        appointment, "cancel", AppointmentStatus.CANCELLED, unchanged_since, reason
    )


def appointment_ics(*, appointment: Appointment) -> bytes:
    """The appointment as an iCalendar file (one VEVENT, times in UTC).

    The summary names the organization and the site, never the kind of visit,
    which is clinical data that calendars sync to third parties; the location
    carries the site's address and the description the preparation notes.
    """
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//Liaison//Patient portal//EN")
    calendar.add("version", "2.0")
    event = icalendar.Event()
    event.add("uid", f"{appointment.public_id}@liaison")
    event.add("dtstamp", timezone.now().astimezone(datetime.UTC))
    event.add("dtstart", appointment.starts_at.astimezone(datetime.UTC))
    event.add("dtend", appointment.ends_at.astimezone(datetime.UTC))
    event.add("summary", f"{appointment.organization.name} – {appointment.site.name}")
    # The place as a calendar shows it and a map app can find it.
    lines = [appointment.site.name, *appointment.site.address.splitlines()]
    location = ", ".join(line.strip() for line in lines if line.strip())
    event.add("location", location)
    # Preparation notes are written for the patient (see the model); the
    # visit type stays out.
    if appointment.preparation_notes:
        event.add("description", appointment.preparation_notes)
    if appointment.status == AppointmentStatus.CANCELLED:
        event.add("status", "CANCELLED")
    calendar.add_component(event)
    return calendar.to_ical()

"""Portal appointments: list, confirm, cancel, calendar file."""

import datetime
from zoneinfo import ZoneInfo

import icalendar
import pytest

from django.urls import reverse
from django.utils import formats, timezone, translation

from clinic.appointments.actions import (
    AppointmentActionError,
    appointment_cancel,
    appointment_confirm,
)
from clinic.models import Appointment
from tests.clinic.factories import AppointmentFactory, SiteFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def appointment(patient_user):
    _, patient = patient_user
    site = SiteFactory(organization=patient.organization, name="Site Nord")
    return AppointmentFactory(patient=patient, site=site, kind="SECRET-KIND")


def _past(patient, **fields):
    starts = timezone.now() - datetime.timedelta(days=2)
    return AppointmentFactory(
        patient=patient,
        starts_at=starts,
        ends_at=starts + datetime.timedelta(minutes=30),
        **fields,
    )


def test_list_shows_upcoming_and_past_in_the_patients_time_zone_and_language(
    patient_client, patient_user, appointment
):
    # given
    _, patient = patient_user
    _past(patient, status=Appointment.Status.FULFILLED)
    local = timezone.localtime(appointment.starts_at, ZoneInfo("Europe/Paris"))
    with translation.override("fr"):
        shown = formats.time_format(local, "TIME_FORMAT")
    # when
    response = patient_client.get(reverse("portal:appointments"))
    # then
    assert response.status_code == 200
    assert response.context["upcoming"] == [appointment]
    assert len(response.context["past"]) == 1
    assert shown in response.text
    assert 'lang="fr"' in response.text
    assert "Site Nord" in response.text
    # The visit type is what patients ask about (issue 19); it stays out of
    # the calendar file (test_calendar_file).
    assert "SECRET-KIND" in response.text


def test_confirm_from_the_portal(patient_client, appointment):
    # when
    response = patient_client.post(
        reverse("portal:appointment_confirm", args=[appointment.public_id])
    )
    # then
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CONFIRMED


def test_cancel_from_the_portal_with_a_reason(patient_client, appointment):
    url = reverse("portal:appointment_cancel", args=[appointment.public_id])
    assert patient_client.get(url).status_code == 200
    response = patient_client.post(url, {"reason": "I feel better"})
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CANCELLED


def test_confirming_a_cancelled_appointment_is_refused(patient_client, appointment):
    # given
    appointment_cancel(appointment=appointment)
    # when
    patient_client.post(
        reverse("portal:appointment_confirm", args=[appointment.public_id])
    )
    # then
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CANCELLED


@pytest.mark.parametrize(
    "status", [Appointment.Status.BOOKED, Appointment.Status.CONFIRMED]
)
def test_past_appointments_cannot_be_confirmed_or_cancelled(patient_user, status):
    past = _past(patient_user[1], status=status)
    with pytest.raises(AppointmentActionError):
        appointment_confirm(appointment=past)
    with pytest.raises(AppointmentActionError):
        appointment_cancel(appointment=past)
    past.refresh_from_db()
    assert past.status == status


@pytest.mark.parametrize(
    ("status", "confirm", "cancel"),
    [
        (Appointment.Status.BOOKED, True, True),
        (Appointment.Status.CONFIRMED, False, True),
        (Appointment.Status.CANCELLED, False, False),
        (Appointment.Status.NO_SHOW, False, False),
        (Appointment.Status.FULFILLED, False, False),
    ],
)
def test_only_allowed_transitions(patient_user, status, confirm, cancel):
    for action, service, allowed in (
        ("confirm", appointment_confirm, confirm),
        ("cancel", appointment_cancel, cancel),
    ):
        appointment = AppointmentFactory(patient=patient_user[1], status=status)
        if allowed:
            service(appointment=appointment)
        else:
            with pytest.raises(AppointmentActionError):
                service(appointment=appointment)
            appointment.refresh_from_db()
            assert appointment.status == status, action


def test_calendar_file(patient_client, appointment):
    # when
    response = patient_client.get(
        reverse("portal:appointment_calendar", args=[appointment.public_id])
    )
    # then
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    assert b"SECRET" not in response.content
    event = icalendar.Calendar.from_ical(response.content).walk("VEVENT")[0]
    assert str(event["UID"]) == f"{appointment.public_id}@liaison"
    assert event.decoded("DTSTART") == appointment.starts_at
    assert event.decoded("DTSTART").utcoffset() == datetime.timedelta(0)
    assert event.decoded("DTEND") == appointment.ends_at
    assert str(event["SUMMARY"]) == "Clinique des Lilas – Site Nord"
    assert b"DTSTART:" in response.content
    assert b"Z\r\nDTEND:" in response.content


def test_caregiver_with_appointments_scope_sees_them(client, caregiver):
    # given
    caregiver.can_see_appointments = True
    caregiver.save()
    appointment = AppointmentFactory(patient=caregiver.patient)
    client.force_login(caregiver.user)
    session = client.session
    session["portal_acting_for"] = str(caregiver.patient.public_id)
    session.save()
    # when
    response = client.get(reverse("portal:appointments"))
    # then
    assert response.status_code == 200
    assert response.context["upcoming"] == [appointment]


def test_caregiver_without_appointments_scope_gets_404(client, caregiver):
    appointment = AppointmentFactory(patient=caregiver.patient)
    client.force_login(caregiver.user)
    session = client.session
    session["portal_acting_for"] = str(caregiver.patient.public_id)
    session.save()
    assert client.get(reverse("portal:appointments")).status_code == 404
    url = reverse("portal:appointment_calendar", args=[appointment.public_id])
    assert client.get(url).status_code == 404


def test_another_patients_appointment_is_404(patient_client, organization):
    other = AppointmentFactory(patient__organization=organization)
    for name in ("appointment_calendar", "appointment_cancel"):
        url = reverse(f"portal:{name}", args=[other.public_id])
        assert patient_client.get(url).status_code == 404
    url = reverse("portal:appointment_confirm", args=[other.public_id])
    assert patient_client.post(url).status_code == 404
    other.refresh_from_db()
    assert other.status == Appointment.Status.BOOKED


def test_anonymous_is_sent_to_log_in(client, appointment):
    response = client.get(reverse("portal:appointments"))
    assert response.status_code == 302
    assert "login" in response["Location"]


def test_a_get_never_confirms(patient_client, appointment):
    url = reverse("portal:appointment_confirm", args=[appointment.public_id])
    assert patient_client.get(url).status_code == 405
    cancel = reverse("portal:appointment_cancel", args=[appointment.public_id])
    assert patient_client.get(cancel).status_code == 200
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.BOOKED

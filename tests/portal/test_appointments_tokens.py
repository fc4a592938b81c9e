"""One-tap confirm and cancel links: signed, expiring, single use, public."""

import datetime

import pytest
import time_machine

from django.contrib.auth import SESSION_KEY
from django.utils import timezone

from clinic.appointments.tokens import appointment_action_url
from clinic.models import Appointment
from clinic.services import appointment_save
from tests.clinic.factories import AppointmentFactory, OrganizationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def appointment(organization):
    return AppointmentFactory(patient__organization=organization, kind="SECRET-KIND")


def _status(appointment) -> str:
    appointment.refresh_from_db()
    return appointment.status


def test_url_is_short_and_public(appointment):
    url = appointment_action_url(appointment, "confirm")
    assert url.startswith("/a/")


def test_get_shows_what_will_happen_and_changes_nothing(client, appointment):
    # given
    url = appointment_action_url(appointment, "confirm")
    before = appointment.updated_at
    # when
    for _ in range(3):  # link scanners prefetch, sometimes several times
        response = client.get(url)
    # then
    assert response.status_code == 200
    assert b"SECRET" not in response.content
    assert 'method="post"' in response.text
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.BOOKED
    assert appointment.updated_at == before


def test_confirm_works_once(client, appointment):
    url = appointment_action_url(appointment, "confirm")
    # when
    first = client.post(url)
    second = client.post(url)
    # then
    assert first.status_code == 200
    assert _status(appointment) == Appointment.Status.CONFIRMED
    assert second.status_code == 400
    assert client.get(url).status_code == 400


def test_cancel_works_and_signs_nobody_in(client, appointment):
    url = appointment_action_url(appointment, "cancel")
    response = client.post(url)
    assert response.status_code == 200
    assert _status(appointment) == Appointment.Status.CANCELLED
    assert SESSION_KEY not in client.session
    assert "sessionid" not in response.cookies


def test_confirming_ends_the_cancel_link_issued_with_it(client, appointment):
    cancel = appointment_action_url(appointment, "cancel")
    client.post(appointment_action_url(appointment, "confirm"))
    assert client.post(cancel).status_code == 400
    assert _status(appointment) == Appointment.Status.CONFIRMED


def test_expired_link_is_refused(client, appointment):
    # given
    appointment.starts_at = timezone.now() + datetime.timedelta(days=30)
    appointment.ends_at = appointment.starts_at + datetime.timedelta(hours=1)
    appointment_save(appointment=appointment)
    url = appointment_action_url(appointment, "confirm")
    # when
    with time_machine.travel(timezone.now() + datetime.timedelta(days=15)):
        response = client.post(url)
    # then
    assert response.status_code == 400
    assert _status(appointment) == Appointment.Status.BOOKED


def test_link_is_refused_once_the_appointment_started(client, appointment):
    url = appointment_action_url(appointment, "confirm")
    with time_machine.travel(appointment.starts_at + datetime.timedelta(minutes=1)):
        response = client.post(url)
    assert response.status_code == 400
    assert _status(appointment) == Appointment.Status.BOOKED


def test_tampered_link_is_refused(client, appointment):
    url = appointment_action_url(appointment, "confirm")
    token = url.split("/")[2]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for bad in (f"/a/{tampered}/", "/a/not-a-token/", f"/a/{token[::-1]}/"):
        assert client.post(bad).status_code == 400, bad
    assert _status(appointment) == Appointment.Status.BOOKED


def test_another_appointments_token_cannot_act_on_this_one(client, appointment):
    # given
    other = AppointmentFactory(patient=appointment.patient)
    url = appointment_action_url(other, "cancel")
    # when
    client.post(url)
    # then
    assert _status(other) == Appointment.Status.CANCELLED
    assert _status(appointment) == Appointment.Status.BOOKED


def test_a_moved_appointment_refuses_older_links(client, appointment):
    # given
    url = appointment_action_url(appointment, "confirm")
    appointment.starts_at += datetime.timedelta(hours=2)
    appointment.ends_at += datetime.timedelta(hours=2)
    appointment_save(appointment=appointment)
    # when
    response = client.post(url)
    # then
    assert response.status_code == 400
    assert _status(appointment) == Appointment.Status.BOOKED


def test_links_work_for_every_organization(client, other_organization):
    far = AppointmentFactory(
        patient__organization=OrganizationFactory(slug="elsewhere")
    )
    assert client.post(appointment_action_url(far, "confirm")).status_code == 200
    assert _status(far) == Appointment.Status.CONFIRMED


def test_a_signed_in_visitor_stays_who_they_are(client, patient_user, appointment):
    user, _ = patient_user
    client.force_login(user)
    client.post(appointment_action_url(appointment, "confirm"))
    assert client.session[SESSION_KEY] == str(user.pk)

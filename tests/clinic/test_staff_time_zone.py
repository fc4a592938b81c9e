"""Staff read and type times in their organization's zone, and the page says
which (clinic/time_zones.py); a superuser chooses the zone."""

import datetime

import pytest
import time_machine

from django.urls import reverse
from django.utils import timezone

from clinic.time_zones import SESSION_KEY
from tests.clinic.factories import AppointmentFactory, PatientFactory

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
# Winter: Paris is UTC+1, New York UTC-5.
NOW = datetime.datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
STARTS = datetime.datetime(2026, 12, 10, 11, 45, tzinfo=UTC)
PARIS_LABEL = "Times: Europe/Paris (UTC+01:00)"


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def appointment(organization):
    return AppointmentFactory(
        patient=PatientFactory(organization=organization),
        starts_at=STARTS,
        ends_at=STARTS + datetime.timedelta(minutes=30),
    )


def changelist():
    return reverse("admin:clinic_appointment_changelist")


def change(appointment):
    return reverse("admin:clinic_appointment_change", args=[appointment.pk])


def test_a_paris_clinic_sees_its_appointment_at_local_time(staff_client, appointment):
    # when
    listed = staff_client.get(changelist()).content.decode()
    changed = staff_client.get(change(appointment)).content.decode()
    # then: 11:45 UTC is 12:45 in Paris, on the list and in the form
    assert "Dec. 10, 2026, 12:45 p.m." in listed
    assert "11:45" not in listed
    assert 'name="starts_at_1" value="12:45:00"' in changed
    assert 'name="starts_at_0" value="2026-12-10"' in changed
    # and: both pages say which zone
    assert PARIS_LABEL in listed
    assert PARIS_LABEL in changed


def test_the_label_is_french_in_french(staff_client, appointment):
    page = staff_client.get(changelist(), HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Heures : Europe/Paris (UTC+01:00)" in page
    assert "12:45" in page


def test_a_time_typed_in_admin_is_read_in_the_clinic_zone(
    staff_client, organization, appointment
):
    # when: staff type 12:45 (Paris, winter)
    response = staff_client.post(
        change(appointment),
        {
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
        },
    )
    # then: stored 11:45 UTC
    assert response.status_code == 302, response.content
    appointment.refresh_from_db()
    assert appointment.starts_at == STARTS
    assert appointment.ends_at == STARTS + datetime.timedelta(minutes=30)


def test_the_zone_does_not_outlive_the_request(staff_client, appointment):
    staff_client.get(changelist())
    assert timezone.get_current_timezone_name() == "UTC"


def test_a_superuser_reads_utc_until_they_choose(
    client, superuser, appointment, other_organization
):
    # given
    client.force_login(superuser)
    # when
    page = client.get(changelist()).content.decode()
    # then: UTC, said so, with the organizations' zones to choose from
    assert "Dec. 10, 2026, 11:45 a.m." in page
    assert "Times: UTC" in page
    assert reverse("admin:time_zone_set") in page
    assert '<option value="America/New_York">' in page
    assert '<option value="Europe/Paris">' in page


def test_a_superusers_choice_is_applied(client, superuser, appointment):
    # given
    client.force_login(superuser)
    # when
    response = client.post(
        reverse("admin:time_zone_set"),
        {"time_zone": "America/New_York", "next": changelist()},
    )
    # then: back on the page, in New York time (11:45 UTC is 06:45)
    assert response.status_code == 302
    assert response["Location"] == changelist()
    assert client.session[SESSION_KEY] == "America/New_York"
    page = client.get(changelist()).content.decode()
    assert "Dec. 10, 2026, 6:45 a.m." in page
    assert "Times: America/New_York (UTC-05:00)" in page
    assert '<option value="America/New_York" selected>' in page


def test_a_superuser_cannot_choose_an_unknown_zone_or_leave_the_site(client, superuser):
    # given
    client.force_login(superuser)
    # when
    response = client.post(
        reverse("admin:time_zone_set"),
        {"time_zone": "Mars/Olympus", "next": "https://elsewhere.example/"},
        follow=True,
    )
    # then
    assert response.redirect_chain[0][0] == reverse("admin:index")
    assert "is not a known time zone" in response.content.decode()
    assert SESSION_KEY not in client.session


def test_only_a_superuser_chooses(staff_client, appointment):
    # when
    response = staff_client.post(
        reverse("admin:time_zone_set"), {"time_zone": "America/New_York"}
    )
    page = staff_client.get(changelist()).content.decode()
    # then: refused, and no chooser on their pages
    assert response.status_code == 403
    assert reverse("admin:time_zone_set") not in page
    assert "12:45" in page


def test_a_staff_members_zone_is_their_organizations(staff_client, appointment):
    """Even with a choice in the session (set by hand here): it is a
    superuser's to make."""
    session = staff_client.session
    session[SESSION_KEY] = "America/New_York"
    session.save()
    page = staff_client.get(changelist()).content.decode()
    assert "12:45" in page
    assert PARIS_LABEL in page

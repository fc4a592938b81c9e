"""The conversation desk and the KPI dashboard are in the clinic's zone too,
and say so (clinic/time_zones.py)."""

import pytest

from django.urls import reverse

from conversations.models import Conversation
from tests.clinic.factories import PatientFactory, StaffMemberFactory
from tests.conversations.conversation_support import (
    daytime_and_delivered,  # noqa: F401 - a fixture
    sms_in,
    sms_patient,
)
from tests.insights.builders import delivery, message, topic

pytestmark = pytest.mark.django_db

PARIS_LABEL = "Times: Europe/Paris (UTC+01:00)"


@pytest.mark.usefixtures("daytime_and_delivered")
def test_the_desk_shows_local_times(client, organization):
    # given: a patient's SMS at 11:00 UTC (NOON in Paris, 10 March: UTC+1)
    sms_patient(organization)
    sms_in("Puis-je décaler mon rendez-vous ?", sid="SM1")
    conversation = Conversation.objects.get()
    client.force_login(
        StaffMemberFactory(organization=organization, role="support").user
    )
    url = reverse("admin:conversations_conversation_thread", args=[conversation.pk])
    # when: the page, and the fragment its live updates fetch
    page = client.get(url).content.decode()
    fragment = client.get(url, {"fragment": "1"}).content.decode()
    queue = client.get(
        reverse("admin:conversations_conversation_changelist")
    ).content.decode()
    # then: the message's time is 12:00 in Paris
    assert 'datetime="2026-03-10T12:00' in page
    assert 'datetime="2026-03-10T12:00' in fragment
    assert "T11:00" not in page
    assert PARIS_LABEL in page
    assert PARIS_LABEL in queue


def test_the_dashboard_shows_local_times_and_says_so(
    staff_client, organization, daytime
):
    # given: a message sent at 09:00 UTC, 10:00 in Paris
    patient = PatientFactory(organization=organization, identifier="LILAS-1")
    delivery(message(patient, topic(organization, "results")), "sms", "delivered")
    period = {"start": "2026-03-01", "end": "2026-03-31"}
    # when
    board = staff_client.get("/admin/insights/dashboard/", period).content.decode()
    rows = staff_client.get(
        "/admin/insights/dashboard/rows/delivery_rate.sms/", period
    ).content.decode()
    # then
    assert PARIS_LABEL in board
    assert "2026-03-10 10:00" in rows
    assert PARIS_LABEL in rows


def test_the_dashboards_rows_follow_a_superusers_choice(
    client, superuser, organization, daytime
):
    # given: a message sent at 09:00 UTC; the superuser reads New York time
    patient = PatientFactory(organization=organization, identifier="LILAS-1")
    delivery(message(patient, topic(organization, "results")), "sms", "delivered")
    client.force_login(superuser)
    client.post(reverse("admin:time_zone_set"), {"time_zone": "America/New_York"})
    query = {"organization": organization.pk, "start": "2026-03-01"}
    query["end"] = "2026-03-31"
    url = "/admin/insights/dashboard/rows/delivery_rate.sms/"
    # when
    page = client.get(url, query).content.decode()
    exported = b"".join(client.get(url + "export.csv", query).streaming_content)
    # then: 09:00 UTC is 05:00 in New York (summer time from 8 March), as
    # the header says, on the page and in the export
    assert "2026-03-10 05:00" in page
    assert "Times: America/New_York (UTC-04:00)" in page
    assert "2026-03-10 05:00" in exported.decode()


def test_the_staffs_export_is_in_the_clinic_zone(staff_client, organization, daytime):
    patient = PatientFactory(organization=organization, identifier="LILAS-1")
    delivery(message(patient, topic(organization, "results")), "sms", "delivered")
    response = staff_client.get(
        "/admin/insights/dashboard/rows/delivery_rate.sms/export.csv",
        {"start": "2026-03-01", "end": "2026-03-31"},
    )
    assert "2026-03-10 10:00" in b"".join(response.streaming_content).decode()

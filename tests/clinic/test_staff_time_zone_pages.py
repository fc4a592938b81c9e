"""The conversation desk and the KPI dashboard are in the clinic's zone too,
and say so (clinic/time_zones.py)."""

import pytest

from django.urls import reverse

from messaging.models import Conversation
from tests.clinic.factories import PatientFactory, StaffMemberFactory
from tests.insights.builders import delivery, message, topic
from tests.messaging.conversation_support import (
    daytime_and_delivered,  # noqa: F401 - a fixture
    sms_in,
    sms_patient,
)

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
    url = reverse("admin:messaging_conversation_thread", args=[conversation.pk])
    # when: the page, and the fragment its live updates fetch
    page = client.get(url).content.decode()
    fragment = client.get(url, {"fragment": "1"}).content.decode()
    queue = client.get(
        reverse("admin:messaging_conversation_changelist")
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

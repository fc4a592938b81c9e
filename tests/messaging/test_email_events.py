"""Email bounces, complaints and clicks arrive through Anymail's tracking signal."""

import pytest
import time_machine
from anymail.signals import AnymailTrackingEvent, tracking

from clinic.services import patient_save
from consent.models import ConsentEvent, PatientPreferences
from messaging.services import message_send
from tests.clinic.factories import PatientFactory
from tests.consent.factories import TopicFactory
from tests.messaging.factories import TemplateFactory
from tests.support.clock import WEEKDAY_NOON_PARIS

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _now(on_commit_at_once):
    with time_machine.travel(WEEKDAY_NOON_PARIS, tick=False):
        yield


@pytest.fixture
def email_delivery(organization):
    patient = patient_save(
        patient=PatientFactory.build(organization=organization, phone="")
    )
    topic = TopicFactory(
        organization=organization,
        slug="news",
        purpose="feedback",
        channels=["inapp", "email"],
    )
    TemplateFactory(topic=topic, channel="email", subject="S", body="B")
    message = message_send(patient=patient, topic=topic, origin="system", context={})
    return message.deliveries.get(channel="email")


def signal(event_type, message_id):
    tracking.send(
        sender=object,
        event=AnymailTrackingEvent(event_type=event_type, message_id=message_id),
        esp_name="TestESP",
    )


def test_a_bounce_marks_the_delivery_and_the_address(email_delivery):
    signal("bounced", email_delivery.provider_id)
    email_delivery.refresh_from_db()
    assert email_delivery.status == "bounced"
    assert (
        PatientPreferences.objects.get(
            patient=email_delivery.message.patient
        ).email_invalid_at
        == WEEKDAY_NOON_PARIS
    )


def test_a_bounce_from_another_address_leaves_the_current_one_valid(email_delivery):
    patient = email_delivery.message.patient
    patient.email = "new-address@example.org"
    patient_save(patient=patient)
    signal("bounced", email_delivery.provider_id)
    email_delivery.refresh_from_db()
    assert email_delivery.status == "bounced"
    assert not PatientPreferences.objects.filter(
        patient=patient, email_invalid_at__isnull=False
    ).exists()


def test_a_complaint_withdraws_email_for_that_purpose(email_delivery):
    signal("complained", email_delivery.provider_id)
    event = ConsentEvent.objects.get(patient=email_delivery.message.patient)
    assert (event.purpose, event.channel, event.action) == (
        "feedback",
        "email",
        "withdrawn",
    )


def test_a_click_reads_the_message(email_delivery):
    signal("clicked", email_delivery.provider_id)
    email_delivery.message.refresh_from_db()
    assert email_delivery.message.read_at == WEEKDAY_NOON_PARIS


def test_an_event_for_an_unknown_message_changes_nothing(email_delivery):
    signal("bounced", "<nope@example>")
    email_delivery.refresh_from_db()
    assert email_delivery.status == "sent"

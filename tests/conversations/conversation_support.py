"""What the conversation tests share: a weekday noon in Paris, deliveries run
as a worker would after the commit, a patient who can receive SMS, a staff
session that passed the second factor."""

import pytest
import time_machine

from clinic.services import patient_save
from tests.clinic.factories import PatientFactory
from tests.consent.factories import TopicFactory
from tests.support.clock import WEEKDAY_NOON_PARIS

PHONE = "+33612345678"
ORGANIZATION_NUMBER = "+33700000001"  # the organization's Twilio sender


@pytest.fixture
def daytime_and_delivered(on_commit_at_once):
    """No quiet hours, and the delivery task run at once (the test's
    transaction never commits)."""
    with time_machine.travel(WEEKDAY_NOON_PARIS, tick=True):
        yield


def sms_patient(organization, **fields):
    """A patient at PHONE (``patient_save`` derives phone_is_mobile, which SMS
    needs), in an organization whose first care topic may use every channel
    and which texts from ORGANIZATION_NUMBER (its Twilio sender identity)."""
    from messaging.models import SenderIdentity

    SenderIdentity.objects.get_or_create(
        organization=organization,
        provider="twilio",
        defaults={"phone_number": ORGANIZATION_NUMBER},
    )
    TopicFactory(
        organization=organization,
        slug="appointment-reminders",
        channels=["inapp", "email", "sms", "voice"],
    )
    return patient_save(
        patient=PatientFactory.build(organization=organization, phone=PHONE, **fields)
    )


def sms_in(text, *, sid, sender=PHONE):
    """An SMS from ``sender`` to the organization's number, as Twilio's
    webhook hands it over."""
    from messaging.inbound import inbound_sms_receive

    return inbound_sms_receive(
        provider="twilio",
        to_number=ORGANIZATION_NUMBER,
        from_number=sender,
        text=text,
        provider_message_id=sid,
    )

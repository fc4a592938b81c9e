"""What the conversation tests share: a weekday noon in Paris, deliveries run
as a worker would after the commit, a patient who can receive SMS, a staff
session that passed the second factor."""

import datetime

import pytest
import time_machine

from clinic.services import patient_save
from tests.clinic.factories import PatientFactory
from tests.consent.factories import TopicFactory

NOON = datetime.datetime(2026, 3, 10, 11, 0, tzinfo=datetime.UTC)
PHONE = "+33612345678"


@pytest.fixture
def daytime_and_delivered(monkeypatch):
    """No quiet hours, and the delivery task run at once (the test's
    transaction never commits)."""
    from django.db import transaction

    monkeypatch.setattr(
        transaction, "on_commit", lambda fn, using=None, robust=False: fn()
    )
    with time_machine.travel(NOON, tick=True):
        yield


def sms_patient(organization, **fields):
    """A patient at PHONE (``patient_save`` derives phone_is_mobile, which SMS
    needs), in an organization whose first care topic may use every channel."""
    TopicFactory(
        organization=organization,
        slug="appointment-reminders",
        channels=["inapp", "email", "sms", "voice"],
    )
    return patient_save(
        patient=PatientFactory.build(organization=organization, phone=PHONE, **fields)
    )


def sms_in(text, *, sid, sender=PHONE):
    from messaging.inbound import inbound_sms_receive

    return inbound_sms_receive(
        provider="twilio",
        to_number="",
        from_number=sender,
        text=text,
        provider_message_id=sid,
    )

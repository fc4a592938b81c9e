"""message_send(address=...): a security message to an address that is not
(yet) the patient's, such as a code proving a new email or phone."""

import pytest
import time_machine

from django.core import mail

from clinic.services import patient_save
from consent.models import PatientPreferences
from messaging.models import Delivery
from messaging.services import (
    deliveries_process,
    delivery_status_update,
    message_send,
)
from tests.clinic.factories import PatientFactory
from tests.consent.factories import TopicFactory
from tests.support.clock import WEEKDAY_NOON_PARIS

pytestmark = pytest.mark.django_db
NEW_EMAIL = "new.address@example.org"
NEW_MOBILE = "+33698765432"


@pytest.fixture(autouse=True)
def _at_noon():
    with time_machine.travel(WEEKDAY_NOON_PARIS, tick=False):
        yield


@pytest.fixture
def patient(organization):
    """No email at all, and an unverified landline: nothing consent would
    send a security message to."""
    patient = patient_save(
        patient=PatientFactory.build(
            organization=organization, email="", phone="+33123456789"
        )
    )
    PatientPreferences.objects.create(patient=patient)
    return patient


@pytest.fixture
def security(organization):
    return TopicFactory(
        organization=organization,
        slug="security-codes",
        purpose="security",
        channels=["email", "sms"],
    )


def send(patient, topic, channel, address, **kwargs):
    return message_send(
        patient=patient,
        topic=topic,
        origin="system",
        text="Your code is 123456.",
        subject="Confirm",
        channels=[channel],
        address=address,
        **kwargs,
    )


def test_the_message_goes_to_the_given_address_only_and_is_checked_again_at_send_time(
    patient, security, django_capture_on_commit_callbacks
):
    """Planning and the claim-time consent check both judge the given address,
    not the patient's missing or unverified one."""
    # given: planned, the worker not run yet
    with django_capture_on_commit_callbacks(execute=False):
        message = send(patient, security, "email", NEW_EMAIL)
    [delivery] = message.deliveries.all()
    assert (delivery.channel, delivery.status, delivery.address) == (
        "email",
        "queued",
        NEW_EMAIL,
    )
    # when
    deliveries_process([delivery.pk])
    # then
    delivery.refresh_from_db()
    assert delivery.status == "sent"
    assert [m.to for m in mail.outbox] == [[NEW_EMAIL]]


def test_an_sms_goes_to_the_given_mobile(
    patient, security, sms_outbox, django_capture_on_commit_callbacks
):
    # when: planned, then delivered after commit
    with django_capture_on_commit_callbacks(execute=True):
        send(patient, security, "sms", NEW_MOBILE)
    # then
    assert [(s["to"], s["body"]) for s in sms_outbox] == [
        (NEW_MOBILE, "Your code is 123456.")
    ]


def test_a_landline_or_malformed_address_is_still_refused(patient, security):
    landline = send(patient, security, "sms", "+33123456789")
    malformed = send(patient, security, "email", "not-an-address")
    assert landline.deliveries.get().reason == "invalid_address"
    assert malformed.deliveries.get().reason == "invalid_address"


def test_an_erased_patient_gets_nothing(patient, security):
    patient.erased_at = WEEKDAY_NOON_PARIS
    patient.save(update_fields=["erased_at"])
    message = send(patient, security, "email", NEW_EMAIL)
    assert message.deliveries.get().reason == "patient_erased"


def test_only_security_topics_and_one_external_channel(patient, security, organization):
    care = TopicFactory(organization=organization, slug="care", purpose="care")
    with pytest.raises(ValueError, match="security"):
        send(patient, care, "email", NEW_EMAIL)
    with pytest.raises(ValueError, match="one channel"):
        message_send(
            patient=patient,
            topic=security,
            origin="system",
            text="x",
            channels=["email", "sms"],
            address=NEW_EMAIL,
        )
    with pytest.raises(ValueError, match="one channel"):
        message_send(
            patient=patient, topic=security, origin="system", text="x", address="x"
        )


def test_a_failed_delivery_to_the_given_address_never_falls_back(
    patient, security, django_capture_on_commit_callbacks
):
    """The code must not reach the patient's other channels."""
    # given
    patient.email = "old@example.org"
    patient_save(patient=patient)
    with django_capture_on_commit_callbacks(execute=False):
        message = send(patient, security, "sms", NEW_MOBILE)
    delivery = message.deliveries.get()
    Delivery.objects.filter(pk=delivery.pk).update(
        status="sent", provider="locmem", provider_id="p-1"
    )
    # when
    delivery_status_update(provider="locmem", provider_id="p-1", status="failed")
    # then
    assert list(message.deliveries.values_list("channel", flat=True)) == ["sms"]

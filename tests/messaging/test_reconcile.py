"""A send whose outcome was never learnt is reconciled, never blindly resent."""

import datetime

import pytest
import time_machine

from django.db import transaction
from django.test import override_settings

from clinic.services import patient_save
from messaging.models import Delivery, OutboxEntry
from messaging.services import deliveries_process, deliveries_requeue_due, message_send
from tests.clinic.factories import PatientFactory
from tests.consent.factories import TopicFactory
from tests.messaging.factories import TemplateFactory

pytestmark = pytest.mark.django_db
NOON = datetime.datetime(2026, 3, 10, 11, 0, tzinfo=datetime.UTC)
OUTBOX = {
    "inapp": {"BACKEND": "messaging.backends.inapp.Backend"},
    "sms": {"BACKEND": "messaging.backends.outbox.Backend"},
}


@pytest.fixture
def crashed_sms(organization, monkeypatch):
    """An SMS claimed by a worker that died before it recorded the outcome."""
    patient = patient_save(
        patient=PatientFactory.build(organization=organization, phone="+33612345678")
    )
    topic = TopicFactory(
        organization=organization, slug="reminders", channels=["inapp", "sms"]
    )
    TemplateFactory(topic=topic, channel="sms", body="RDV")
    with time_machine.travel(NOON, tick=False):
        message = message_send(
            patient=patient, topic=topic, origin="system", context={}
        )
    sms = message.deliveries.get(channel="sms")
    Delivery.objects.filter(pk=sms.pk).update(
        status="sending",
        attempts=1,
        lease_expires_at=NOON + datetime.timedelta(minutes=5),
    )
    monkeypatch.setattr(
        transaction, "on_commit", lambda fn, using=None, robust=False: fn()
    )
    return sms


@override_settings(MESSAGING_BACKENDS=OUTBOX)
def test_a_send_the_provider_has_is_recorded_not_resent(crashed_sms):
    # given: the provider did get it before the worker died
    OutboxEntry.objects.create(
        delivery=crashed_sms, channel="sms", to="+33612345678", body="RDV"
    )
    # when: the lease expires and the periodic job runs
    with time_machine.travel(NOON + datetime.timedelta(minutes=10), tick=False):
        deliveries_requeue_due()
    # then
    crashed_sms.refresh_from_db()
    assert crashed_sms.status == "sent"
    assert OutboxEntry.objects.count() == 1


@override_settings(MESSAGING_BACKENDS=OUTBOX)
def test_a_send_the_provider_never_got_is_sent_once(crashed_sms):
    with time_machine.travel(NOON + datetime.timedelta(minutes=10), tick=False):
        deliveries_requeue_due()
        deliveries_process([crashed_sms.pk])
    crashed_sms.refresh_from_db()
    assert crashed_sms.status == "sent"
    assert OutboxEntry.objects.filter(delivery=crashed_sms).count() == 1


@override_settings(MESSAGING_BACKENDS=OUTBOX)
def test_a_live_lease_is_left_alone(crashed_sms):
    with time_machine.travel(NOON + datetime.timedelta(minutes=1), tick=False):
        deliveries_process([crashed_sms.pk])
    crashed_sms.refresh_from_db()
    assert crashed_sms.status == "sending"
    assert not OutboxEntry.objects.exists()

"""Provider status callbacks only move deliveries forward; failures fall back."""

import datetime

import pytest
import time_machine

from django.core import mail

from clinic.services import patient_save
from messaging.models import Delivery
from messaging.services import delivery_status_update, message_send
from tests.clinic.factories import PatientFactory
from tests.consent.factories import TopicFactory
from tests.messaging.factories import TemplateFactory
from tests.support.clock import WEEKDAY_NOON_PARIS

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _now_and_commit(on_commit_at_once):
    with time_machine.travel(WEEKDAY_NOON_PARIS, tick=False):
        yield


@pytest.fixture
def sms_delivery(organization):
    patient = patient_save(
        patient=PatientFactory.build(organization=organization, phone="+33612345678")
    )
    topic = TopicFactory(
        organization=organization, slug="reminders", channels=["inapp", "sms", "email"]
    )
    TemplateFactory(topic=topic, channel="sms", body="RDV {{ appointment_date }}")
    TemplateFactory(
        topic=topic, channel="email", subject="RDV", body="RDV {{ appointment_date }}"
    )
    message = message_send(
        patient=patient,
        topic=topic,
        origin="system",
        context={"appointment_date": "12/03"},
    )
    return message.deliveries.get(channel="sms")


def test_duplicate_and_out_of_order_callbacks_never_move_backwards(sms_delivery):
    provider_id = sms_delivery.provider_id
    delivery_status_update(
        provider="locmem", provider_id=provider_id, status="delivered"
    )
    delivery_status_update(
        provider="locmem", provider_id=provider_id, status="delivered"
    )
    delivery_status_update(provider="locmem", provider_id=provider_id, status="sent")
    sms_delivery.refresh_from_db()
    assert sms_delivery.status == "delivered"
    assert sms_delivery.delivered_at == WEEKDAY_NOON_PARIS


def test_unknown_provider_id_is_ignored():
    assert (
        delivery_status_update(
            provider="locmem", provider_id="nope", status="delivered"
        )
        is None
    )


def test_failure_falls_back_to_the_next_channel_with_the_same_values(sms_delivery):
    delivery_status_update(
        provider="locmem",
        provider_id=sms_delivery.provider_id,
        status="failed",
        error_code="30003",
    )
    sms_delivery.refresh_from_db()
    assert (sms_delivery.status, sms_delivery.reason, sms_delivery.error_code) == (
        "failed",
        "provider_rejected",
        "30003",
    )
    email = Delivery.objects.get(message=sms_delivery.message, channel="email")
    assert email.status == "sent"
    assert mail.outbox[0].body == "RDV 12/03"


def test_unknown_status_word_is_refused(sms_delivery):
    with pytest.raises(ValueError, match="Unknown delivery status"):
        delivery_status_update(
            provider="locmem", provider_id=sms_delivery.provider_id, status="teleported"
        )


def test_a_failure_whose_message_was_deleted_meanwhile_plans_nothing(sms_delivery):
    # given: the delivery as a worker holds it, its message deleted since
    # (the column has no database constraint to refuse a new delivery)
    from messaging.services import delivery_fallback

    held = Delivery.objects.select_related("message").get(pk=sms_delivery.pk)
    sms_delivery.message.delete()
    # when
    planned = delivery_fallback(delivery=held)
    # then: no delivery points at the missing message
    assert planned is None
    assert not Delivery.objects.filter(message_id=held.message_id).exists()


def test_a_delivery_whose_message_is_gone_is_never_claimed(sms_delivery):
    # given: a delivery left without its message (written by hand: every
    # writer of the application writes it with its message or locks it)
    from messaging.models import Message
    from messaging.services.delivering import deliveries_process

    Delivery.objects.filter(pk=sms_delivery.pk).update(
        status="queued",
        next_attempt_at=WEEKDAY_NOON_PARIS - datetime.timedelta(minutes=1),
        message_id=Message.objects.order_by("-pk")[0].pk + 1000,
    )
    attempts = Delivery.objects.get(pk=sms_delivery.pk).attempts
    # when
    deliveries_process([sms_delivery.pk])
    # then: left as it was, nothing sent
    sms_delivery.refresh_from_db()
    assert (sms_delivery.status, sms_delivery.attempts) == ("queued", attempts)

"""One effect per provider message id: a retried or concurrent webhook changes
nothing and replies nothing."""

import threading
import time

import pytest

from django.db import connection
from django.test import Client

from consent.models import ConsentEvent
from messaging import inbound
from messaging.models import InboundReceipt, Message
from tests.messaging.providers.fakes import (
    SINCH_NUMBER,
    SINCH_SMS,
    TWILIO_NUMBER,
    TWILIO_SID,
    sinch_post,
    twilio_post,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("failover_providers")]
PHONE = "+33612345678"
EMPTY_TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def twilio_sms(client, body, sid="SMretried"):
    data = {
        "MessageSid": sid,
        "AccountSid": TWILIO_SID,
        "From": PHONE,
        "To": TWILIO_NUMBER,
        "Body": body,
    }
    return twilio_post(client, "/webhooks/twilio/inbound", data)


def sinch_sms(client, body, message_id="01RETRIED"):
    payload = {
        "type": "mo_text",
        "id": message_id,
        "from": PHONE.lstrip("+"),
        "to": SINCH_NUMBER.lstrip("+"),
        "body": body,
    }
    return sinch_post(client, "/webhooks/sinch/inbound", payload)


def stop_events(patient) -> int:
    return ConsentEvent.objects.filter(patient=patient, source="sms-keyword").count()


def test_a_retried_twilio_stop_is_applied_and_answered_once(
    client, patient, care_topic
):
    # when: Twilio posts the same STOP three times
    responses = [twilio_sms(client, "STOP") for _ in range(3)]
    # then
    assert stop_events(patient) == 3  # care, marketing, feedback: once
    assert b"<Message>" in responses[0].content
    assert [r.content for r in responses[1:]] == [EMPTY_TWIML, EMPTY_TWIML]
    receipt = InboundReceipt.objects.get()
    assert (receipt.organization, receipt.outcome) == (
        patient.organization,
        "keyword",
    )


def test_a_retried_sinch_stop_is_applied_and_answered_once(
    client, httpserver, patient, care_topic, django_capture_on_commit_callbacks
):
    # given
    SINCH_SMS.accept(httpserver)
    # when: Sinch posts the same STOP twice, each in its own request
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            assert sinch_sms(client, "Stop").status_code == 200
    # then: one confirmation batch
    assert stop_events(patient) == 3
    ((reply, _),) = httpserver.log
    assert reply.get_json()["body"].startswith("Clinique des Lilas")


def test_a_retried_message_joins_the_conversation_once(client, patient, care_topic):
    # when
    responses = [twilio_sms(client, "Bonjour") for _ in range(2)]
    # then
    assert Message.objects.filter(direction="in").count() == 1
    assert responses[1].content == EMPTY_TWIML
    assert InboundReceipt.objects.get().outcome == "message"


def test_a_failed_handling_is_undone_and_the_retry_takes_effect(
    client, patient, care_topic, monkeypatch
):
    """The receipt is in the effects' transaction: a crash leaves no receipt,
    so the provider's retry is handled, not dropped."""

    # given: the first attempt crashes after the receipt was written
    def crash(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(inbound, "_patient_wrote", crash)
    with pytest.raises(RuntimeError):
        twilio_sms(client, "STOP")
    assert not InboundReceipt.objects.exists()
    monkeypatch.undo()
    # when
    twilio_sms(client, "STOP")
    # then
    assert stop_events(patient) == 3


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="concurrent writers need PostgreSQL (SQLite serialises them)",
)
@pytest.mark.parametrize(("body", "events", "messages"), [("STOP", 3, 0), ("Hi", 0, 1)])
def test_two_identical_webhooks_at_the_same_instant_take_effect_once(
    patient, care_topic, monkeypatch, body, events, messages
):
    """Both requests are inside their transactions at once: the second's
    receipt waits on the unique index for the first, then fails: no effect,
    no reply."""
    # given: routing takes a moment, so both receipts are written before
    # either transaction ends
    routed = inbound.inbound_organization_ids

    def slow_route(**kwargs):
        time.sleep(0.5)
        return routed(**kwargs)

    monkeypatch.setattr(inbound, "inbound_organization_ids", slow_route)
    start = threading.Barrier(2)
    responses = []

    def post() -> None:
        try:
            start.wait()
            responses.append(twilio_sms(Client(), body))
        finally:
            connection.close()

    # when
    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    # then
    assert [r.status_code for r in responses] == [200, 200]
    assert stop_events(patient) == events
    assert Message.objects.filter(direction="in").count() == messages
    assert InboundReceipt.objects.count() == 1
    if body == "STOP":
        replies = sorted(b"<Message>" in r.content for r in responses)
        assert replies == [False, True]

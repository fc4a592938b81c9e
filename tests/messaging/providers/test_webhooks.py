"""Webhook details: call statuses, keypad answers, what is ignored."""

import json
import time

import pytest

from django.test import override_settings

from messaging.backends.sms.sinch import sinch_signature
from messaging.models import Delivery
from tests.messaging.providers.fakes import (
    SINCH_SECRET,
    SINCH_SMS,
    TWILIO_SMS,
    TWILIO_VOICE,
    sinch_post,
    twilio_post,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def providers():
    backends = {
        "sms": SINCH_SMS.config("http://sinch.invalid"),
        "voice": TWILIO_VOICE.config("http://twilio.invalid"),
    }
    with override_settings(MESSAGING_BACKENDS=backends):
        yield


@pytest.fixture
def call(make_delivery):
    delivery = make_delivery(channel="voice", language="fr")
    Delivery.objects.filter(pk=delivery.pk).update(
        status="sent", provider="twilio", provider_id="CA123"
    )
    return delivery


@pytest.mark.parametrize(
    ("call_status", "expected", "error_code"),
    [
        ("completed", "delivered", ""),
        ("no-answer", "failed", "no-answer"),
        ("ringing", "sent", ""),
    ],
)
def test_call_status_callbacks(client, call, call_status, expected, error_code):
    response = twilio_post(
        client,
        "/webhooks/twilio/status",
        {"CallSid": "CA123", "CallStatus": call_status},
    )
    call.refresh_from_db()
    assert response.status_code == 204
    assert (call.status, call.error_code) == (expected, error_code)


def test_keypad_answer_is_acknowledged_in_the_patients_language(
    client, call, log_records
):
    response = twilio_post(
        client, "/webhooks/twilio/voice/keypad", {"CallSid": "CA123", "Digits": "1"}
    )
    assert response.status_code == 200
    assert b'<Say language="fr-FR">' in response.content
    assert any(
        r.getMessage() == f"keypad '1' on delivery {call.pk}" for r in log_records
    )


def test_keypad_without_signature_is_refused(client, call):
    response = client.post(
        "/webhooks/twilio/voice/keypad", {"CallSid": "CA123", "Digits": "2"}
    )
    assert response.status_code == 403


def test_webhooks_answer_only_post(client):
    assert client.get("/webhooks/twilio/status").status_code == 405


def test_a_status_callback_for_an_unknown_message_is_acknowledged(client):
    response = twilio_post(
        client,
        "/webhooks/twilio/status",
        {"MessageSid": "SMnope", "MessageStatus": "delivered"},
    )
    assert response.status_code == 204


def test_a_stale_sinch_signature_is_refused(client):
    """A captured callback cannot be replayed an hour later."""
    body = json.dumps({"type": "recipient_delivery_report_sms", "batch_id": "1"})
    timestamp = str(int(time.time()) - 3600)
    response = client.post(
        "/webhooks/sinch/status",
        body,
        content_type="application/json",
        HTTP_X_SINCH_WEBHOOK_SIGNATURE=sinch_signature(
            SINCH_SECRET, body.encode(), "n", timestamp
        ),
        HTTP_X_SINCH_WEBHOOK_SIGNATURE_NONCE="n",
        HTTP_X_SINCH_WEBHOOK_SIGNATURE_TIMESTAMP=timestamp,
    )
    assert response.status_code == 403


def test_a_provider_without_its_secret_refuses_every_callback(client):
    with override_settings(
        MESSAGING_BACKENDS={"sms": TWILIO_SMS.config("http://x", auth_token="")}
    ):
        response = twilio_post(
            client,
            "/webhooks/twilio/status",
            {"MessageSid": "SM1", "MessageStatus": "sent"},
            token="",
        )
    assert response.status_code == 403


def test_signed_but_malformed_json_is_a_400(client):
    response = sinch_post(client, "/webhooks/sinch/status", ["not", "an", "object"])
    assert response.status_code == 400

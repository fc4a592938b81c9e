"""The real pipeline against fake providers, and their signed callbacks back."""

import datetime
import urllib.parse

import pytest
import time_machine

from django.test import override_settings

from messaging.models import Delivery, StatusCallback
from messaging.services import deliveries_process, message_send
from tests.consent.factories import TopicFactory
from tests.messaging.factories import TemplateFactory
from tests.messaging.providers.fakes import (
    SINCH_SMS,
    TWILIO_SMS,
    logged_text,
    sinch_post,
    stall,
    twilio_post,
)
from tests.support.clock import WEEKDAY_NOON_PARIS

pytestmark = pytest.mark.django_db
INAPP = {"BACKEND": "messaging.backends.inapp.Backend"}


@pytest.fixture(autouse=True)
def _noon_and_commit(on_commit_at_once):
    """Daytime for consent, and the delivery task run as soon as it is queued."""
    with time_machine.travel(WEEKDAY_NOON_PARIS, tick=False):
        yield


@pytest.fixture
def reminders(organization):
    topic = TopicFactory(
        organization=organization, slug="reminders", channels=["inapp", "sms", "email"]
    )
    TemplateFactory(topic=topic, channel="sms", body="RDV le {{ appointment_date }}.")
    return topic


def through(provider, httpserver):
    config = provider.config(httpserver.url_for("").rstrip("/"))
    return override_settings(MESSAGING_BACKENDS={"inapp": INAPP, "sms": config})


def send(patient, topic, **context):
    message = message_send(
        patient=patient,
        topic=topic,
        origin="system",
        context=context or {"appointment_date": "12/03"},
    )
    return message.deliveries.get(channel="sms")


def status(delivery):
    delivery.refresh_from_db()
    return delivery.status


def test_twilio_sends_then_its_callbacks_move_the_delivery_forward_once(
    client, httpserver, patient, reminders, log_records
):
    # given: sent through Twilio
    TWILIO_SMS.accept(httpserver)
    with through(TWILIO_SMS, httpserver):
        sms = send(patient, reminders)
        sid = sms.provider_id
        assert (sms.status, sms.provider) == ("sent", "twilio")
        assert sid == httpserver.log[0][1].get_json()["sid"]
        callback = {
            "MessageSid": sid,
            "MessageStatus": "delivered",
            "To": "+33612345678",
        }
        # when: Twilio calls back, twice
        first = twilio_post(client, "/webhooks/twilio/status", callback)
        again = twilio_post(client, "/webhooks/twilio/status", callback)
        late = twilio_post(
            client, "/webhooks/twilio/status", callback | {"MessageStatus": "sent"}
        )
    # then
    assert (first.status_code, again.status_code, late.status_code) == (204, 204, 204)
    assert status(sms) == "delivered"
    assert (
        StatusCallback.objects.filter(provider_id=sid, status="delivered").count() == 1
    )


def test_forged_callback_is_refused_changes_nothing_and_logs_no_body(
    client, httpserver, patient, reminders, log_records
):
    TWILIO_SMS.accept(httpserver)
    with through(TWILIO_SMS, httpserver):
        sms = send(patient, reminders)
        callback = {
            "MessageSid": sms.provider_id,
            "MessageStatus": "failed",
            "To": "+33612345678",
            "Body": "secret words",
        }
        forged = twilio_post(client, "/webhooks/twilio/status", callback, token="wrong")
        unsigned = client.post(
            "/webhooks/twilio/status",
            urllib.parse.urlencode(callback),
            content_type="application/x-www-form-urlencoded",
        )
    assert (forged.status_code, forged.content) == (403, b"")
    assert (unsigned.status_code, unsigned.content) == (403, b"")
    assert status(sms) == "sent"
    text = logged_text(log_records)
    assert "twilio/status: missing or invalid signature" in text
    assert "+33612345678" not in text
    assert "secret words" not in text
    assert sms.provider_id not in text


def test_sinch_sends_then_its_delivery_report_moves_the_delivery(
    client, httpserver, patient, reminders
):
    SINCH_SMS.accept(httpserver)
    with through(SINCH_SMS, httpserver):
        sms = send(patient, reminders)
        report = {
            "type": "recipient_delivery_report_sms",
            "batch_id": sms.provider_id,
            "recipient": "33612345678",
            "code": 0,
            "status": "Delivered",
            "client_reference": f"liaison-{sms.pk}",
        }
        response = sinch_post(client, "/webhooks/sinch/status", report)
        forged = sinch_post(
            client, "/webhooks/sinch/status", report | {"status": "Failed"}, secret="x"
        )
    assert (response.status_code, forged.status_code) == (200, 403)
    assert (sms.provider, status(sms)) == ("sinch", "delivered")


def test_sinch_failure_report_keeps_the_providers_code(
    client, httpserver, patient, reminders
):
    SINCH_SMS.accept(httpserver)
    with through(SINCH_SMS, httpserver):
        sms = send(patient, reminders)
        sinch_post(
            client,
            "/webhooks/sinch/status",
            {
                "type": "recipient_delivery_report_sms",
                "batch_id": sms.provider_id,
                "code": 402,
                "status": "Failed",
            },
        )
    sms.refresh_from_db()
    assert (sms.status, sms.error_code) == ("failed", "402")


def test_rejected_number_fails_the_delivery_with_twilios_code(
    httpserver, patient, reminders
):
    TWILIO_SMS.refuse(httpserver, 400, "21211")
    with through(TWILIO_SMS, httpserver):
        sms = send(patient, reminders)
    assert (sms.status, sms.reason, sms.error_code) == (
        "failed",
        "provider_rejected",
        "21211",
    )


def test_a_timeout_after_sending_leaves_the_delivery_unknown(
    httpserver, patient, reminders
):
    wait = stall(httpserver, TWILIO_SMS, 1.5)
    config = TWILIO_SMS.config(httpserver.url_for("").rstrip("/"), read_timeout=0.5)
    with override_settings(MESSAGING_BACKENDS={"inapp": INAPP, "sms": config}):
        sms = send(patient, reminders)
    wait()
    assert (sms.status, sms.provider, sms.error_code) == (
        "unknown",
        "twilio",
        "timeout",
    )


def test_a_confidential_body_never_reaches_the_provider(
    httpserver, patient, organization
):
    # given
    topic = TopicFactory(
        organization=organization, slug="results", channels=["inapp", "sms"]
    )
    for channel in ("inapp", "sms"):
        TemplateFactory(
            topic=topic,
            channel=channel,
            sensitivity="confidential",
            body="Résultat {{ result_name }} : {{ diagnosis }}",
        )
    TWILIO_SMS.accept(httpserver)
    # when
    with through(TWILIO_SMS, httpserver):
        sms = send(patient, topic, result_name="HbA1c", diagnosis="DIABETES-SECRET")
    # then
    assert sms.status == "sent"
    sent = [request.get_data(as_text=True) for request, _ in httpserver.log]
    assert len(sent) == 1
    assert "DIABETES" not in urllib.parse.unquote_plus(sent[0])
    assert "HbA1c" not in urllib.parse.unquote_plus(sent[0])
    assert sms.message.authenticity_code in urllib.parse.unquote_plus(sent[0])
    assert not Delivery.objects.filter(body__contains="DIABETES").exists()


def test_an_unknown_delivery_is_reconciled_with_twilio_not_sent_twice(
    httpserver, patient, reminders
):
    # given: Twilio accepted the message but answered too late
    wait = stall(httpserver, TWILIO_SMS, 1.5)
    config = TWILIO_SMS.config(httpserver.url_for("").rstrip("/"), read_timeout=0.5)
    with override_settings(MESSAGING_BACKENDS={"inapp": INAPP, "sms": config}):
        sms = send(patient, reminders)
        wait()
        httpserver.clear()
        httpserver.expect_request(TWILIO_SMS.path, method="GET").respond_with_json(
            {
                "messages": [
                    {
                        "sid": "SMaccepted",
                        "body": sms.body,
                        "date_created": "Tue, 10 Mar 2026 11:00:01 +0000",
                    }
                ]
            }
        )
        # when: a worker takes it up again, once it is due
        with time_machine.travel(
            WEEKDAY_NOON_PARIS + datetime.timedelta(minutes=5), tick=False
        ):
            deliveries_process([sms.pk])
    # then: recorded as sent with Twilio's id, and no second POST
    sms.refresh_from_db()
    assert (sms.status, sms.provider_id) == ("sent", "SMaccepted")
    assert [request.method for request, _ in httpserver.log] == ["GET"]


def test_an_unknown_delivery_twilio_never_had_is_sent_again(
    httpserver, patient, reminders
):
    wait = stall(httpserver, TWILIO_SMS, 1.5)
    config = TWILIO_SMS.config(httpserver.url_for("").rstrip("/"), read_timeout=0.5)
    with override_settings(MESSAGING_BACKENDS={"inapp": INAPP, "sms": config}):
        sms = send(patient, reminders)
        wait()
        httpserver.clear()
        httpserver.expect_request(TWILIO_SMS.path, method="GET").respond_with_json(
            {"messages": []}
        )
        TWILIO_SMS.accept(httpserver)
        with time_machine.travel(
            WEEKDAY_NOON_PARIS + datetime.timedelta(minutes=5), tick=False
        ):
            deliveries_process([sms.pk])
    sms.refresh_from_db()
    assert sms.status == "sent"
    assert [request.method for request, _ in httpserver.log] == ["GET", "POST"]

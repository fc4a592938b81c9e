"""Twilio: the requests the backends make, and reconciliation."""

import json

import pytest
from werkzeug import Response

from django.conf import settings

from tests.messaging.providers.fakes import (
    TWILIO_SID,
    TWILIO_SMS,
    TWILIO_TOKEN,
    TWILIO_VOICE,
    basic_auth,
    form,
)

pytestmark = pytest.mark.django_db
SERVICE_SID = "MG" + "0123456789abcdef" * 2


def test_sms_request_is_form_encoded_with_basic_auth(
    httpserver, backend_for, make_delivery
):
    # given
    TWILIO_SMS.accept(httpserver)
    delivery = make_delivery(body="RDV demain à 10h.")
    # when
    (result,) = backend_for(TWILIO_SMS).send_many([delivery])
    # then
    ((request, response),) = httpserver.log
    assert request.headers["Authorization"] == basic_auth(TWILIO_SID, TWILIO_TOKEN)
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form(request) == {
        "To": "+33612345678",
        "From": "+33700000001",
        "Body": "RDV demain à 10h.",
        "StatusCallback": f"{settings.SITE_URL}/webhooks/twilio/status",
    }
    assert result.provider_id == response.get_json()["sid"]


def test_sms_through_a_messaging_service_names_no_sender(
    httpserver, backend_for, make_delivery, senders
):
    """An identity with a Messaging Service sends through the service's pool."""
    # given
    TWILIO_SMS.accept(httpserver)
    senders["twilio"].messaging_service_sid = SERVICE_SID
    senders["twilio"].save()
    backend = backend_for(TWILIO_SMS)
    # when
    backend.send_many([make_delivery()])
    # then
    ((request, _),) = httpserver.log
    assert backend.is_available() == (True, "")
    assert form(request)["MessagingServiceSid"] == SERVICE_SID
    assert "From" not in form(request)


@pytest.mark.parametrize(("language", "voice"), [("fr", "fr-FR"), ("en", "en-US")])
def test_call_reads_the_text_in_the_patients_language_and_listens_for_a_key(
    httpserver, backend_for, make_delivery, language, voice
):
    TWILIO_VOICE.accept(httpserver)
    delivery = make_delivery(
        channel="voice", body="Rendez-vous <demain> & 10h", language=language
    )
    (result,) = backend_for(TWILIO_VOICE).send_many([delivery])
    ((request, _),) = httpserver.log
    sent = form(request)
    assert result.ok
    assert sent["To"] == "+33612345678"
    assert sent["Twiml"] == (
        "<Response>"
        f'<Gather numDigits="1" method="POST" '
        f'action="{settings.SITE_URL}/webhooks/twilio/voice/keypad">'
        f'<Say language="{voice}">Rendez-vous &lt;demain&gt; &amp; 10h</Say>'
        "</Gather></Response>"
    )


def messages_page(*messages):
    body = json.dumps({"messages": list(messages), "page": 0})
    return lambda request: Response(body, 200, content_type="application/json")


def test_reconcile_finds_the_message_twilio_accepted(
    httpserver, backend_for, make_delivery
):
    # given: Twilio lists an older identical text and the one we lost track of
    delivery = make_delivery(body="RDV demain à 10h.")
    httpserver.expect_request(
        f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json",
        method="GET",
        query_string={"To": "+33612345678", "From": "+33700000001", "PageSize": "50"},
    ).respond_with_handler(
        messages_page(
            {
                "sid": "SMother",
                "body": "Autre",
                "date_created": "Tue, 31 Dec 2099 10:00:00 +0000",
            },
            {
                "sid": "SMours",
                "body": "RDV demain à 10h.",
                "date_created": "Tue, 31 Dec 2099 09:00:00 +0000",
            },
            {
                "sid": "SMold",
                "body": "RDV demain à 10h.",
                "date_created": "Mon, 01 Jan 2001 09:00:00 +0000",
            },
        )
    )
    # when
    found = backend_for(TWILIO_SMS).reconcile([delivery])
    # then
    assert found == {delivery.pk: "SMours"}


def test_reconcile_reports_a_message_twilio_never_had(
    httpserver, backend_for, make_delivery
):
    delivery = make_delivery()
    httpserver.expect_request(
        f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json", method="GET"
    ).respond_with_handler(messages_page())
    assert backend_for(TWILIO_SMS).reconcile([delivery]) == {delivery.pk: None}


def test_reconcile_leaves_out_what_it_could_not_check(
    httpserver, backend_for, make_delivery
):
    delivery = make_delivery()
    httpserver.expect_request(
        f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json", method="GET"
    ).respond_with_data("busy", status=503)
    assert backend_for(TWILIO_SMS).reconcile([delivery]) == {}


def test_reconcile_a_call_by_number_and_time(httpserver, backend_for, make_delivery):
    delivery = make_delivery(channel="voice")
    httpserver.expect_request(
        f"/2010-04-01/Accounts/{TWILIO_SID}/Calls.json", method="GET"
    ).respond_with_json(
        {
            "calls": [
                {"sid": "CAours", "date_created": "Tue, 31 Dec 2099 09:00:00 +0000"}
            ]
        }
    )
    assert backend_for(TWILIO_VOICE).reconcile([delivery]) == {delivery.pk: "CAours"}

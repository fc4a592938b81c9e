"""Sinch: the requests the backends make, and reconciliation."""

import base64
import hashlib
import hmac

import pytest

from django.conf import settings

from messaging.backends.sms.sinch import sinch_signature
from tests.messaging.providers.fakes import (
    SINCH_APP_SECRET,
    SINCH_KEY,
    SINCH_PLAN,
    SINCH_SMS,
    SINCH_TOKEN,
    SINCH_VOICE,
    basic_auth,
)

pytestmark = pytest.mark.django_db


def test_signature_is_hmac_sha256_over_body_nonce_and_timestamp():
    expected = base64.b64encode(
        hmac.new(b"secret", b'{"a":1}.abc.1700000000', hashlib.sha256).digest()
    ).decode()
    assert sinch_signature("secret", b'{"a":1}', "abc", "1700000000") == expected


def test_sms_is_one_batch_with_our_reference_and_a_per_recipient_report(
    httpserver, backend_for, make_delivery
):
    # given
    SINCH_SMS.accept(httpserver)
    delivery = make_delivery(body="RDV demain à 10h.")
    # when
    (result,) = backend_for(SINCH_SMS).send_many([delivery])
    # then
    ((request, response),) = httpserver.log
    assert request.path == f"/xms/v1/{SINCH_PLAN}/batches"
    assert request.headers["Authorization"] == f"Bearer {SINCH_TOKEN}"
    assert request.get_json() == {
        "from": "+33700000002",
        "to": ["+33612345678"],
        "body": "RDV demain à 10h.",
        "client_reference": f"liaison-{delivery.pk}",
        "delivery_report": "per_recipient",
        "callback_url": f"{settings.SITE_URL}/webhooks/sinch/status",
    }
    assert result.provider_id == response.get_json()["id"]


def test_one_client_serves_a_whole_batch(httpserver, backend_for, make_delivery):
    SINCH_SMS.accept(httpserver)
    deliveries = [make_delivery(body=f"n{n}") for n in range(3)]
    results = backend_for(SINCH_SMS).send_many(deliveries)
    assert all(r.ok for r in results)
    assert len(httpserver.log) == 3


@pytest.mark.parametrize(("language", "locale"), [("fr", "fr-FR"), ("en", "en-US")])
def test_tts_callout_reads_the_text_in_the_patients_language(
    httpserver, backend_for, make_delivery, language, locale
):
    SINCH_VOICE.accept(httpserver)
    delivery = make_delivery(
        channel="voice", body="Rendez-vous demain", language=language
    )
    (result,) = backend_for(SINCH_VOICE).send_many([delivery])
    ((request, response),) = httpserver.log
    assert request.headers["Authorization"] == basic_auth(SINCH_KEY, SINCH_APP_SECRET)
    assert request.get_json() == {
        "method": "ttsCallout",
        "ttsCallout": {
            "cli": "+33700000002",
            "destination": {"type": "number", "endpoint": "+33612345678"},
            "locale": locale,
            "text": "Rendez-vous demain",
            "custom": f"liaison-{delivery.pk}",
        },
    }
    assert result.provider_id == response.get_json()["callId"]


def test_reconcile_finds_the_batch_by_client_reference(
    httpserver, backend_for, make_delivery
):
    delivery = make_delivery()
    httpserver.expect_request(
        f"/xms/v1/{SINCH_PLAN}/batches", method="GET"
    ).respond_with_json(
        {"count": 1, "page": 0, "page_size": 30, "batches": [{"id": "01OURS"}]}
    )
    found = backend_for(SINCH_SMS).reconcile([delivery])
    ((request, _),) = httpserver.log
    assert found == {delivery.pk: "01OURS"}
    assert request.args["client_reference"] == f"liaison-{delivery.pk}"
    assert request.args["start_date"].endswith("Z")


def test_reconcile_reports_a_batch_sinch_never_had(
    httpserver, backend_for, make_delivery
):
    delivery = make_delivery()
    httpserver.expect_request(
        f"/xms/v1/{SINCH_PLAN}/batches", method="GET"
    ).respond_with_json({"count": 0, "page": 0, "page_size": 30, "batches": []})
    assert backend_for(SINCH_SMS).reconcile([delivery]) == {delivery.pk: None}


def test_voice_reconcile_checks_nothing(backend_for, make_delivery):
    delivery = make_delivery(channel="voice")
    assert backend_for(SINCH_VOICE).reconcile([delivery]) == {}


def test_unavailable_until_every_credential_is_set(backend_for):
    backend = backend_for(SINCH_SMS, api_token="", webhook_secret="")
    assert backend.is_available() == (
        False,
        "missing SINCH_API_TOKEN, SINCH_WEBHOOK_SECRET",
    )

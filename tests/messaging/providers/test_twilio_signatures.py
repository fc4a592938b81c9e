"""Twilio webhook signatures, made by Twilio's own SDK: what it signs is
accepted (URL with or without its default port, HMAC-SHA1 or -SHA256, form or
JSON body), and anything altered after signing is refused."""

import hashlib
import json
import urllib.parse

import pytest
from twilio.request_validator import HMAC_SHA256, RequestValidator

from django.test import override_settings

from messaging.models import Delivery
from tests.messaging.providers.fakes import TWILIO_SMS, TWILIO_TOKEN

pytestmark = pytest.mark.django_db

SITE = "https://clinic.example"
PATH = "/webhooks/twilio/status"
STATUS = {"MessageSid": "SM123", "MessageStatus": "delivered"}


@pytest.fixture(autouse=True)
def providers():
    backends = {"sms": TWILIO_SMS.config("http://twilio.invalid")}
    with override_settings(MESSAGING_BACKENDS=backends, SITE_URL=SITE):
        yield


@pytest.fixture
def sms(make_delivery):
    delivery = make_delivery(channel="sms")
    Delivery.objects.filter(pk=delivery.pk).update(
        status="sent", provider="twilio", provider_id="SM123"
    )
    return delivery


def post_form(client, data, signature, **headers):
    return client.post(
        PATH,
        urllib.parse.urlencode(data),
        content_type="application/x-www-form-urlencoded",
        HTTP_X_TWILIO_SIGNATURE=signature,
        **headers,
    )


@pytest.mark.parametrize(
    "signed_url", [SITE + PATH, "https://clinic.example:443" + PATH]
)
def test_a_form_callback_signed_with_or_without_the_port_is_accepted(
    client, sms, signed_url
):
    # given
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(signed_url, STATUS)
    # when
    response = post_form(client, STATUS, signature)
    # then
    sms.refresh_from_db()
    assert response.status_code == 204
    assert sms.status == "delivered"


def test_an_hmac_sha256_signature_is_accepted(client, sms):
    # given
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(
        SITE + PATH, STATUS, HMAC_SHA256
    )
    # when
    response = post_form(
        client,
        STATUS,
        signature,
        HTTP_X_TWILIO_WEBHOOKS_SIGNATURE_SETTINGS="key=webhooks_sharedkey_1,"
        "algorithm=HMAC_SHA256",
    )
    # then
    sms.refresh_from_db()
    assert response.status_code == 204
    assert sms.status == "delivered"


def json_url(body: str, port: str = "") -> str:
    digest = hashlib.sha256(body.encode()).hexdigest()
    return f"https://clinic.example{port}{PATH}?bodySHA256={digest}"


@pytest.mark.parametrize("port", ["", ":443"])
def test_a_json_callback_signed_through_its_body_hash_is_accepted(client, sms, port):
    # given
    body = json.dumps(STATUS)
    url = json_url(body, port)
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, {})
    # when
    response = client.post(
        url.removeprefix(f"https://clinic.example{port}"),
        body,
        content_type="application/json",
        HTTP_X_TWILIO_SIGNATURE=signature,
    )
    # then
    sms.refresh_from_db()
    assert response.status_code == 204
    assert sms.status == "delivered"


def test_a_form_parameter_changed_after_signing_is_refused(client, sms):
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(SITE + PATH, STATUS)
    response = post_form(client, STATUS | {"MessageStatus": "failed"}, signature)
    sms.refresh_from_db()
    assert response.status_code == 403
    assert sms.status == "sent"


def test_a_json_body_changed_after_signing_is_refused(client, sms):
    body = json.dumps(STATUS)
    url = json_url(body)
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, {})
    response = client.post(
        url.removeprefix(SITE),
        json.dumps(STATUS | {"MessageStatus": "failed"}),
        content_type="application/json",
        HTTP_X_TWILIO_SIGNATURE=signature,
    )
    assert response.status_code == 403


def test_a_json_body_without_its_hash_in_the_url_is_refused(client, sms):
    """Signed over the URL alone, the body would be bound by nothing."""
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(SITE + PATH, {})
    response = client.post(
        PATH,
        json.dumps(STATUS),
        content_type="application/json",
        HTTP_X_TWILIO_SIGNATURE=signature,
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("token", "algorithm", "settings_header"),
    [
        ("another-token", None, ""),  # another account's token
        (TWILIO_TOKEN, HMAC_SHA256, ""),  # SHA-256, but the header names none
        (TWILIO_TOKEN, None, "algorithm=HMAC_SHA256"),  # the header lies
        (TWILIO_TOKEN, None, "algorithm=HMAC_MD5"),  # an algorithm not supported
    ],
)
def test_a_signature_of_another_key_or_algorithm_is_refused(
    client, sms, token, algorithm, settings_header
):
    signature = RequestValidator(token).compute_signature(
        SITE + PATH, STATUS, algorithm
    )
    response = post_form(
        client,
        STATUS,
        signature,
        HTTP_X_TWILIO_WEBHOOKS_SIGNATURE_SETTINGS=settings_header,
    )
    assert response.status_code == 403

"""Mailgun's tracking webhook refuses stale, future and reused signatures:
the signature covers only timestamp and token, not the event data."""

import datetime
import hashlib
import hmac
import json
import urllib.parse

import pytest
import time_machine

from django.test import Client, override_settings

from clinic.services import patient_save
from messaging.email.mailgun import webhook_token_use
from messaging.models import Delivery, WebhookToken
from messaging.services import message_send
from tests.clinic.factories import PatientFactory
from tests.consent.factories import TopicFactory
from tests.messaging.factories import TemplateFactory
from tests.support.clock import WEEKDAY_NOON_PARIS

pytestmark = pytest.mark.django_db
KEY = "mailgun-signing-key"
URL = "/anymail/mailgun/tracking/"
MESSAGE_ID = "<20260310.1@mg.clinic.example>"


@pytest.fixture(autouse=True)
def _setup():
    with (
        override_settings(ANYMAIL={"MAILGUN_WEBHOOK_SIGNING_KEY": KEY}),
        time_machine.travel(WEEKDAY_NOON_PARIS, tick=False),
    ):
        yield


@pytest.fixture
def email_delivery(organization, on_commit_at_once):
    patient = patient_save(
        patient=PatientFactory.build(organization=organization, phone="")
    )
    topic = TopicFactory(
        organization=organization,
        slug="news",
        purpose="feedback",
        channels=["inapp", "email"],
    )
    TemplateFactory(topic=topic, channel="email", subject="S", body="B")
    message = message_send(patient=patient, topic=topic, origin="system", context={})
    delivery = message.deliveries.get(channel="email")
    Delivery.objects.filter(pk=delivery.pk).update(
        status="sent", provider="email", provider_id=MESSAGE_ID
    )
    return delivery


def signature(token: str, timestamp: str, key: str = KEY) -> str:
    return hmac.new(
        key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256
    ).hexdigest()


def event(kind: str, *, token: str = "t" * 50, age: int = 0) -> str:
    """A Mailgun event, signed ``age`` seconds before now (negative: ahead)."""
    timestamp = str(int(WEEKDAY_NOON_PARIS.timestamp()) - age)
    return json.dumps(
        {
            "signature": {
                "token": token,
                "timestamp": timestamp,
                "signature": signature(token, timestamp),
            },
            "event-data": {
                "event": kind,
                "severity": "permanent",
                "timestamp": float(timestamp),
                "message": {"headers": {"message-id": MESSAGE_ID.strip("<>")}},
            },
        }
    )


def post(client, body: str):
    return client.post(URL, body, content_type="application/json")


def test_a_fresh_signature_is_accepted(client, email_delivery):
    response = post(client, event("failed"))
    email_delivery.refresh_from_db()
    assert response.status_code == 200
    assert email_delivery.status == "bounced"


def test_a_token_seen_once_is_refused_with_other_event_data(client, email_delivery):
    # given: a delivery report went through
    assert post(client, event("delivered", token="a" * 50)).status_code == 200
    # when: its signature block comes back with a bounce
    response = post(client, event("failed", token="a" * 50))
    # then
    email_delivery.refresh_from_db()
    assert response.status_code == 400
    assert email_delivery.status == "delivered"


def test_a_day_old_signature_is_refused(client, email_delivery):
    response = post(client, event("failed", age=24 * 3600))
    email_delivery.refresh_from_db()
    assert response.status_code == 400
    assert email_delivery.status == "sent"


@pytest.mark.parametrize(
    ("age", "status"),
    [(5 * 60, 200), (5 * 60 + 1, 400), (-60, 200), (-61, 400), (-3600, 400)],
)
def test_signatures_are_accepted_five_minutes_back_and_one_ahead(
    client, email_delivery, age, status
):
    assert post(client, event("delivered", age=age)).status_code == status


def test_the_legacy_form_webhook_is_guarded_too(client, email_delivery):
    timestamp = str(int(WEEKDAY_NOON_PARIS.timestamp()))
    fields = {
        "event": "delivered",
        "Message-Id": MESSAGE_ID,
        "recipient": "a@example.org",
        "token": "f" * 50,
        "timestamp": timestamp,
        "signature": signature("f" * 50, timestamp),
    }
    body = urllib.parse.urlencode(fields)
    form = "application/x-www-form-urlencoded"
    assert client.post(URL, body, content_type=form).status_code == 200
    assert client.post(URL, body, content_type=form).status_code == 400


def test_a_tampered_signature_is_still_refused(client, email_delivery):
    body = json.loads(event("failed"))
    body["signature"]["timestamp"] = str(int(WEEKDAY_NOON_PARIS.timestamp()) - 1)
    assert post(client, json.dumps(body)).status_code == 400


def test_a_failed_handling_leaves_the_token_for_mailguns_retry(
    email_delivery, monkeypatch
):
    # given: the first handling fails after the token was recorded
    def broken(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr("messaging.email.events.email_event_receive", broken)
    client = Client(raise_request_exception=False)
    assert post(client, event("failed", token="r" * 50)).status_code == 500
    monkeypatch.undo()
    # when: Mailgun retries the same request
    response = post(client, event("failed", token="r" * 50))
    # then
    email_delivery.refresh_from_db()
    assert response.status_code == 200
    assert email_delivery.status == "bounced"


def test_tokens_too_old_to_be_accepted_are_cleaned_up():
    # given
    webhook_token_use(
        provider="mailgun",
        token="old",
        signed_at=WEEKDAY_NOON_PARIS - datetime.timedelta(minutes=6),
    )
    webhook_token_use(
        provider="mailgun",
        token="recent",
        signed_at=WEEKDAY_NOON_PARIS - datetime.timedelta(minutes=4),
    )
    # when
    webhook_token_use(provider="mailgun", token="new", signed_at=WEEKDAY_NOON_PARIS)
    # then
    assert set(WebhookToken.objects.values_list("token", flat=True)) == {
        "recent",
        "new",
    }

"""A backend asks its gate right before each provider call and makes no call
the gate refuses (the delivering service's fencing, messaging.services.claims)."""

import pytest

from django.core import mail

from messaging.backends.base import NOT_ADMITTED, BaseBackend, SendGate
from messaging.backends.email import Backend as EmailBackend
from messaging.backends.sms.failover import SmsBackend as FailoverBackend
from tests.messaging.providers.fakes import SINCH_SMS, TWILIO_SMS

pytestmark = pytest.mark.django_db


class Refusing(SendGate):
    """Admits every delivery but the ones named."""

    def __init__(self, *refused_ids):
        self.refused_ids = set(refused_ids)
        self.asked = []

    def admits(self, delivery):
        self.asked.append(delivery.pk)
        return delivery.pk not in self.refused_ids


def test_an_http_provider_is_not_called_for_a_refused_delivery(
    httpserver, backend_for, make_delivery
):
    # given: two deliveries, the gate refusing the second
    TWILIO_SMS.accept(httpserver)
    first, second = make_delivery(), make_delivery()
    backend = backend_for(TWILIO_SMS, concurrency=2)
    backend.gate = Refusing(second.pk)
    # when
    results = {r.delivery_id: r for r in backend.send_many([first, second])}
    # then: one request, the refused delivery answered as not admitted
    assert len(httpserver.log) == 1
    assert results[first.pk].ok
    assert results[second.pk].error.code == NOT_ADMITTED
    assert sorted(backend.gate.asked) == sorted([first.pk, second.pk])


def test_a_refused_delivery_is_not_tried_on_the_failover_provider(
    httpserver, make_delivery
):
    # given: a failover whose gate refuses the delivery
    url = httpserver.url_for("").rstrip("/")
    TWILIO_SMS.accept(httpserver)
    SINCH_SMS.accept(httpserver)
    backend = FailoverBackend(
        channel="sms", primary=TWILIO_SMS.config(url), secondary=SINCH_SMS.config(url)
    )
    delivery = make_delivery()
    backend.gate = Refusing(delivery.pk)
    # when
    (result,) = backend.send_many([delivery])
    # then: neither provider was called
    assert result.error.code == NOT_ADMITTED
    assert httpserver.log == []


def test_a_refused_mail_is_not_sent(make_delivery):
    # given
    sent, refused = (
        make_delivery("email", address="a@example.org"),
        make_delivery("email", address="b@example.org"),
    )
    backend = EmailBackend(channel="email")
    backend.gate = Refusing(refused.pk)
    # when
    results = {r.delivery_id: r for r in backend.send_many([sent, refused])}
    # then
    assert [m.to for m in mail.outbox] == [["a@example.org"]]
    assert results[refused.pk].error.code == NOT_ADMITTED


class Counting(BaseBackend):
    provider = "counting"
    calls = 0

    def send(self, delivery):
        Counting.calls += 1
        return f"c-{delivery.pk}"


def test_the_default_send_many_asks_the_gate_too(make_delivery):
    Counting.calls = 0
    delivery = make_delivery()
    backend = Counting(channel="sms")
    backend.gate = Refusing(delivery.pk)
    (result,) = backend.send_many([delivery])
    assert result.error.code == NOT_ADMITTED
    assert Counting.calls == 0

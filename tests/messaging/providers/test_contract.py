"""Every channel backend keeps the same contract (STYLE.md §3)."""

import pytest

from django.utils.module_loading import import_string

from messaging.backends.base import SendResult
from messaging.backends.locmem import Backend as LocmemBackend
from messaging.backends.sms.failover import SmsBackend as FailoverBackend
from messaging.models import OutboxEntry
from tests.messaging.providers.fakes import (
    PROVIDERS,
    SINCH_SMS,
    TWILIO_SMS,
    unused_port_url,
)

pytestmark = pytest.mark.django_db

BACKENDS = [p.name for p in PROVIDERS] + [
    "failover",
    "locmem",
    "outbox",
    "console",
    "file",
]


@pytest.fixture(params=BACKENDS)
def backend(request, httpserver, backend_for, tmp_path):
    """Each backend, with a fake provider behind it that accepts everything."""
    name = request.param
    for provider in PROVIDERS:
        if provider.name == name:
            provider.accept(httpserver)
            return backend_for(provider)
    if name == "failover":
        SINCH_SMS.accept(httpserver)
        url = httpserver.url_for("").rstrip("/")
        return FailoverBackend(
            channel="sms",
            primary=TWILIO_SMS.config(unused_port_url()),
            secondary=SINCH_SMS.config(url),
        )
    if name == "locmem":
        return LocmemBackend(channel="sms")
    backend_class = import_string(f"messaging.backends.{name}.Backend")
    return backend_class(channel="sms", path=str(tmp_path))


@pytest.fixture
def deliveries(make_delivery, backend):
    channel = backend.channel
    return [make_delivery(channel=channel, body=f"Message {n}") for n in range(3)]


class TestBackendContract:
    def test_send_many_answers_every_delivery_in_order(self, backend, deliveries):
        # when
        results = backend.send_many(deliveries)
        # then
        assert [r.delivery_id for r in results] == [d.pk for d in deliveries]
        assert all(isinstance(r, SendResult) for r in results)

    def test_a_sent_delivery_gets_a_distinct_provider_id(self, backend, deliveries):
        results = backend.send_many(deliveries)
        assert all(r.ok for r in results), [r.error for r in results]
        ids = [r.provider_id for r in results]
        assert all(ids)
        assert len(set(ids)) == len(ids)

    def test_results_name_a_provider(self, backend, deliveries):
        results = backend.send_many(deliveries[:1])
        assert results[0].provider
        assert results[0].provider != "base"

    def test_is_available_says_yes_or_why_not(self, backend):
        available, why = backend.is_available()
        assert available is True
        assert why == ""


def test_outbox_backend_stores_what_it_would_send(make_delivery):
    from messaging.backends.outbox import Backend

    delivery = make_delivery(body="Rappel")
    Backend(channel="sms").send_many([delivery])
    assert OutboxEntry.objects.get().body == "Rappel"

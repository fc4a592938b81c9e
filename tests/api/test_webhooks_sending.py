"""A receiver that fails gets retries with exponential back-off for a day,
then the subscription is flagged; the scheduler's due job drives retries."""

import datetime
import itertools
import socket
import time

import pytest
import time_machine
from werkzeug import Response

from api.models import WebhookDelivery
from api.webhooks import sending as webhooks_sending
from api.webhooks.sending import retry_delay, webhook_deliveries_due
from api.webhooks.services import webhook_subscription_update
from consent.services import consent_record
from core.scheduler import due_run
from tests.api.webhooks_support import emit, received, signed_at, subscribe
from tests.clinic.factories import PatientFactory

pytestmark = pytest.mark.django_db
T0 = datetime.datetime(2026, 11, 3, 8, 0, tzinfo=datetime.UTC)


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    def run():
        return django_capture_on_commit_callbacks(execute=True)

    return run


def test_the_retry_schedule_doubles_up_to_an_hour():
    assert [retry_delay(n).total_seconds() / 60 for n in range(1, 10)] == [
        1,
        2,
        4,
        8,
        16,
        32,
        60,
        60,
        60,
    ]


def test_a_failing_receiver_is_retried_for_a_day_then_flagged(
    httpserver, organization, commit
):
    # given: a receiver that always answers 500
    httpserver.expect_request("/hook").respond_with_response(Response("no", 500))
    subscription, secret = subscribe(organization, httpserver.url_for("/hook"))
    with time_machine.travel(T0, tick=False) as clock:
        with commit():
            delivery = emit(subscription)
        # when: the scheduler's one-minute job runs for a day and more
        for _minute in range(26 * 60):
            clock.shift(datetime.timedelta(minutes=1))
            with commit():
                due_run()
    # then: attempts at 0, 1, 3, 7, 15, 31, 63 minutes, then hourly
    attempts_at = [signed_at(request) for request, _ in httpserver.log]
    minutes = [(t - int(T0.timestamp())) // 60 for t in attempts_at]
    assert minutes[:8] == [0, 1, 3, 7, 15, 31, 63, 123]
    assert all(b - a == 60 for a, b in itertools.pairwise(minutes[6:]))
    assert minutes[-1] <= 24 * 60 < minutes[-1] + 60
    assert len(received(httpserver, secret, checked_when_sent=True)) == 29
    # the same delivery id on every retry, for the receiver's de-duplication
    assert {r.headers["Liaison-Delivery"] for r, _ in httpserver.log} == {
        str(delivery.public_id)
    }
    delivery.refresh_from_db()
    subscription.refresh_from_db()
    assert delivery.status == "failed"
    assert delivery.attempts == 29
    assert delivery.response_code == 500
    assert not subscription.is_active
    assert subscription.flagged_at is not None
    assert "500" in subscription.flagged_reason


def test_a_flagged_subscription_gets_no_new_events_until_reactivated(
    httpserver, organization, commit
):
    httpserver.expect_request("/hook").respond_with_data("ok")
    subscription, _ = subscribe(organization, httpserver.url_for("/hook"))
    patient = PatientFactory(organization=organization)
    webhooks_sending.subscription_flag(
        subscription=subscription, reason="broken", now=T0
    )
    with commit():
        consent_record(patient=patient, granted=True, source="api", purpose="marketing")
    assert not WebhookDelivery.objects.exists()
    # when: reactivated (through the API or admin)
    webhook_subscription_update(subscription=subscription, is_active=True)
    # then
    subscription.refresh_from_db()
    assert subscription.flagged_at is None
    assert subscription.flagged_reason == ""
    with commit():
        consent_record(
            patient=patient, granted=False, source="api", purpose="marketing"
        )
    assert WebhookDelivery.objects.get().status == "delivered"


def test_flagging_fails_the_other_pending_deliveries(organization, httpserver):
    subscription, _ = subscribe(organization, httpserver.url_for("/hook"))
    first, second = emit(subscription, count=2)
    webhooks_sending.subscription_flag(subscription=subscription, reason="x", now=T0)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == second.status == "failed"
    assert webhook_deliveries_due(T0 + datetime.timedelta(days=1)) == 0


def test_a_timeout_is_retried(httpserver, organization, commit, monkeypatch):
    monkeypatch.setattr(webhooks_sending, "TIMEOUT", 0.3)

    def slow(request):
        time.sleep(1)
        return Response("late")

    httpserver.expect_request("/hook").respond_with_handler(slow)
    subscription, _ = subscribe(organization, httpserver.url_for("/hook"))
    with commit():
        delivery = emit(subscription)
    delivery.refresh_from_db()
    assert delivery.status == "pending"
    assert delivery.error == "Timed out."
    assert delivery.response_code is None
    assert delivery.next_attempt_at == delivery.last_attempt_at + datetime.timedelta(
        minutes=1
    )
    # Let the slow handler finish, so that its late answer stays in this test.
    deadline = time.monotonic() + 5
    while not httpserver.log and time.monotonic() < deadline:
        time.sleep(0.05)


def test_a_refused_connection_is_retried_and_holds_back_the_batch(organization, commit):
    # given: a port nobody listens on
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    subscription, _ = subscribe(organization, f"http://127.0.0.1:{port}/hook")
    with commit():
        first, second = emit(subscription, count=2)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == "pending"
    assert first.error.startswith("Could not connect")
    assert first.attempts == 1
    # the same receiver is not tried again in the same batch
    assert second.attempts == 0
    assert second.next_attempt_at == first.next_attempt_at


def test_a_delivery_is_sent_once_even_if_queued_twice(httpserver, organization):
    httpserver.expect_request("/hook").respond_with_data("ok")
    subscription, _ = subscribe(organization, httpserver.url_for("/hook"))
    delivery = emit(subscription)
    webhooks_sending.webhook_deliveries_send([delivery.pk, delivery.pk])
    webhooks_sending.webhook_deliveries_send([delivery.pk])
    assert len(httpserver.log) == 1


def test_the_due_job_leaves_fresh_deliveries_to_their_own_task(
    httpserver, organization
):
    subscription, _ = subscribe(organization, httpserver.url_for("/hook"))
    with time_machine.travel(T0, tick=False):
        emit(subscription)
        assert webhook_deliveries_due(T0) == 0
    assert webhook_deliveries_due(T0 + datetime.timedelta(minutes=2)) == 1


def test_connects_to_the_address_it_checked(httpserver, organization, monkeypatch):
    """The host is resolved once, checked, and the connection pinned to that
    address; the Host header keeps the name."""
    httpserver.expect_request("/hook").respond_with_data("ok")
    real = socket.getaddrinfo

    def fake_dns(host, *args, **kwargs):
        if host == "hooks.partner.test":
            return real("127.0.0.1", *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_dns)
    subscription, _ = subscribe(
        organization, f"http://hooks.partner.test:{httpserver.port}/hook"
    )
    delivery = emit(subscription)
    webhooks_sending.webhook_deliveries_send([delivery.pk])
    delivery.refresh_from_db()
    assert delivery.status == "delivered", delivery.error
    assert (
        httpserver.log[0][0].headers["Host"] == f"hooks.partner.test:{httpserver.port}"
    )

"""/metrics: the pipeline's series for Prometheus, behind a token or a network
rule, with no patient data in them."""

import datetime

import pytest
from django_q.models import Schedule
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from django.utils import timezone

from api.models import WebhookDelivery, WebhookSubscription
from messaging.models import Delivery
from tests.messaging.providers.fakes import TWILIO_SMS

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-for-tests"


@pytest.fixture
def scrape(client, settings):
    settings.METRICS_TOKEN = TOKEN

    def get() -> dict[tuple[str, tuple], float]:
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200
        samples = {}
        for family in text_string_to_metric_families(response.content.decode()):
            for sample in family.samples:
                samples[(sample.name, tuple(sorted(sample.labels.items())))] = (
                    sample.value
                )
        get.text = response.content.decode()
        return samples

    return get


def test_without_a_token_or_network_configured_it_is_not_there(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_NETWORKS = []
    assert client.get("/metrics").status_code == 404


def test_a_wrong_or_missing_token_is_404(client, settings):
    settings.METRICS_TOKEN = TOKEN
    assert client.get("/metrics").status_code == 404
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer not-it")
    assert wrong.status_code == 404


def test_an_address_in_the_metrics_networks_needs_no_token(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_NETWORKS = ["127.0.0.0/8"]
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 404


def test_the_pipeline_series_read_the_database(scrape, make_delivery, organization):
    # given: one delivery waiting 5 minutes, one whose worker's lease ran out,
    # one sent; a webhook waiting for its retry; a job 10 minutes late
    now = timezone.now()
    waiting = make_delivery(channel="sms")
    Delivery.objects.filter(pk=waiting.pk).update(
        next_attempt_at=now - datetime.timedelta(minutes=5)
    )
    stuck = make_delivery(channel="sms")
    Delivery.objects.filter(pk=stuck.pk).update(
        status="sending", lease_expires_at=now - datetime.timedelta(minutes=1)
    )
    sent = make_delivery(channel="email")
    Delivery.objects.filter(pk=sent.pk).update(status="sent")
    subscription = WebhookSubscription.objects.create(
        organization=organization,
        url="https://partner.example.org/hook",
        secret_encrypted="unused",
    )
    WebhookDelivery.objects.create(
        subscription=subscription, event="message.status", attempts=2
    )
    Schedule.objects.create(
        func="math.floor",
        name="late-job",
        next_run=now - datetime.timedelta(minutes=10),
    )
    # when
    samples = scrape()
    # then
    assert (
        samples[("liaison_deliveries", (("channel", "sms"), ("status", "queued")))] == 1
    )
    assert (
        samples[("liaison_deliveries", (("channel", "sms"), ("status", "sending")))]
        == 1
    )
    assert (
        samples[("liaison_deliveries", (("channel", "email"), ("status", "sent")))] == 1
    )
    assert samples[("liaison_delivery_queue_depth", ())] == 1
    assert samples[("liaison_delivery_queue_oldest_seconds", ())] >= 300
    assert samples[("liaison_delivery_leases_expired", ())] == 1
    assert samples[("liaison_webhook_retries_pending", ())] == 1
    assert samples[("liaison_scheduler_lag_seconds", ())] >= 600
    assert ("liaison_task_queue_depth", ()) in samples


def test_provider_latency_and_errors_are_counted_without_patient_data(
    scrape, httpserver, backend_for, make_delivery
):
    # given: Twilio answers one send and refuses the next with a 500
    labels = {"provider": "twilio", "operation": "messages.create"}
    errors = {**labels, "code": "500"}
    calls_before = (
        REGISTRY.get_sample_value("liaison_provider_request_seconds_count", labels) or 0
    )
    errors_before = (
        REGISTRY.get_sample_value("liaison_provider_errors_total", errors) or 0
    )
    backend = backend_for(TWILIO_SMS)
    TWILIO_SMS.accept(httpserver)
    backend.send_many([make_delivery(channel="sms", body="Sentinel Camille Durand")])
    httpserver.clear()
    TWILIO_SMS.refuse(httpserver, 500, "500")
    backend.send_many([make_delivery(channel="sms", body="Sentinel chimiothérapie")])
    # when
    samples = scrape()
    # then
    key = tuple(sorted(labels.items()))
    assert samples[("liaison_provider_request_seconds_count", key)] == calls_before + 2
    assert samples[
        ("liaison_provider_errors_total", tuple(sorted(errors.items())))
    ] == (errors_before + 1)
    for sentinel in ("Camille", "Durand", "chimiothérapie", "+33612345678"):
        assert sentinel not in scrape.text


def test_in_multiprocess_mode_the_processes_series_come_from_their_files(
    scrape, monkeypatch, tmp_path
):
    """Under gunicorn and django-q2 (docs/deploy.md, "Metrics"): the pipeline's
    series are read as ever, the processes' from PROMETHEUS_MULTIPROC_DIR
    (empty here, so no provider series and no single-process ones)."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    samples = scrape()
    assert ("liaison_delivery_queue_depth", ()) in samples
    assert not any(name.startswith("liaison_provider_") for name, _ in samples)
    assert not any(name.startswith("python_gc_") for name, _ in samples)

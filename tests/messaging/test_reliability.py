"""Reliability against real parts: PostgreSQL, real qcluster processes, a fake
Sinch over HTTP. Sync mode would hide exactly the failures these look for."""

import datetime
import time

import pytest

from django.db import connection

from messaging.models import Delivery
from tests.support.fake_sinch import __name__ as _fake  # noqa: F401 - importable
from tests.support.planned import planned_deliveries
from tests.support.processes import Cluster, FakeSinch, cluster_env

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL (SKIP LOCKED, real workers)",
    ),
]
RECIPIENTS = 2000


@pytest.fixture
def fake_sinch():
    fake = FakeSinch()
    yield fake
    fake.stop()


def sms_env(fake: FakeSinch, **extra: str) -> dict[str, str]:
    return cluster_env(
        SMS_BACKEND="messaging.backends.sms.sinch.SmsBackend",
        SINCH_BASE_URL=fake.base_url,
        SINCH_SERVICE_PLAN_ID="plan",
        SINCH_API_TOKEN="token",
        SINCH_WEBHOOK_SECRET="secret",
        SMS_READ_TIMEOUT="1",
        Q_WORKERS="2",
        # A task taken by a killed cluster comes back after Q_RETRY: the
        # tests wait that long for it. Their tasks take a second or two.
        Q_TIMEOUT="10",
        Q_RETRY="12",
        MESSAGING_LEASE_SECONDS="5",
        MESSAGING_DELIVERY_BATCH="50",
        **extra,
    )


def planned_sms(count: int) -> list[int]:
    return planned_deliveries(channel="sms", count=count)


def enqueue_in_cluster(func: str, *args) -> None:
    """Queue a task for the real cluster (the test settings run tasks inline)."""
    from django_q.tasks import async_task

    async_task(func, *args, sync=False)


def enqueue_deliveries(ids: list[int], batch: int = 50) -> None:
    for start in range(0, len(ids), batch):
        enqueue_in_cluster(
            "messaging.tasks.deliveries_process", ids[start : start + batch]
        )


def wait_until(predicate, timeout: float, every: float = 0.5, poke=None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if poke:
            poke()
        time.sleep(every)
    return predicate()


def sent_count(ids: list[int]) -> int:
    return Delivery.objects.filter(pk__in=ids, status="sent").count()


def test_a_worker_killed_mid_batch_loses_nothing_and_sends_nothing_twice(fake_sinch):
    # given: 2,000 SMS planned, a cluster at work
    ids = planned_sms(RECIPIENTS)
    enqueue_deliveries(ids)
    cluster = Cluster(sms_env(fake_sinch))
    try:
        # when: it is SIGKILLed in the middle, then restarted
        assert wait_until(lambda: sent_count(ids) >= RECIPIENTS * 0.3, timeout=90)
        cluster.kill()
        cluster = Cluster(sms_env(fake_sinch))
        last_poke = [0.0]

        def poke() -> None:  # what the one-minute schedule does, more often
            if time.monotonic() - last_poke[0] > 5:
                last_poke[0] = time.monotonic()
                enqueue_in_cluster("messaging.tasks.deliveries_requeue_due")

        assert wait_until(
            lambda: sent_count(ids) == RECIPIENTS, timeout=150, poke=poke
        ), dict(Delivery.objects.filter(pk__in=ids).values_list("status").annotate())
    finally:
        cluster.stop()
    # then: every delivery went out exactly once, by the provider's own count
    sent = fake_sinch.sent()
    assert len(sent) == RECIPIENTS
    assert set(sent.values()) == {1}


def test_a_provider_that_fails_then_recovers_gets_everything_once(fake_sinch):
    # given: the provider answers 500 at first
    ids = planned_sms(200)
    fake_sinch.mode("error")
    cluster = Cluster(sms_env(fake_sinch))
    try:
        enqueue_deliveries(ids)
        assert wait_until(
            lambda: (
                Delivery.objects.filter(
                    pk__in=ids, attempts__gte=1, status="queued"
                ).count()
                == len(ids)
            ),
            timeout=60,
        )
        # when: it stalls past the client's timeout (accepting but not answering), then recovers
        fake_sinch.mode("stall")
        Delivery.objects.filter(pk__in=ids).update(
            next_attempt_at=datetime.datetime.now(datetime.UTC)
        )
        enqueue_deliveries(ids[:20])
        assert wait_until(
            lambda: Delivery.objects.filter(pk__in=ids, status="unknown").exists(),
            timeout=60,
        )
        fake_sinch.mode("ok")
        long_ago = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=2)
        Delivery.objects.filter(pk__in=ids).exclude(status="sent").update(
            next_attempt_at=long_ago
        )

        def poke() -> None:
            enqueue_in_cluster("messaging.tasks.deliveries_requeue_due")

        # then: everything is sent, the stalled ones reconciled rather than resent
        assert wait_until(
            lambda: sent_count(ids) == len(ids), timeout=120, every=3, poke=poke
        )
    finally:
        cluster.stop()
    sent = fake_sinch.sent()
    assert len(sent) == len(ids)
    assert set(sent.values()) == {1}

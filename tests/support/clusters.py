"""Driving real qcluster processes from a test: the reliability tests'
marks, a cluster's environment for SMS through a fake provider, queueing
tasks for the cluster, waiting on a condition, and counting outcomes."""

import time

import pytest

from django.db import connection
from django.db.models import Count

from messaging.models import Delivery
from tests.support.planned import planned_deliveries
from tests.support.processes import FakeProvider, cluster_env

# The reliability tests' marks: slow, real transactions, PostgreSQL only.
RELIABILITY = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL (SKIP LOCKED, real workers)",
    ),
]


def sms_env(fake: FakeProvider, **extra: str) -> dict[str, str]:
    """A cluster sending SMS to ``fake`` with short, consistent limits: a task
    runs at most 8 s (every call 4 s at most: 3 to connect on a loaded
    machine, 1 to answer), a claim lasts 10 s (the system check wants it
    longer than a task), a task a killed cluster had taken comes back after
    12 s."""
    limits = {
        "SMS_CONNECT_TIMEOUT": "3",
        "SMS_READ_TIMEOUT": "1",
        "SMS_RECONCILE_GRACE": "2",
        "Q_WORKERS": "2",
        "Q_TIMEOUT": "8",
        "Q_RETRY": "12",
        "MESSAGING_LEASE_SECONDS": "10",
        "MESSAGING_DELIVERY_BATCH": "50",
    }
    return cluster_env(**fake.env(), **(limits | extra))


def planned_sms(count: int) -> list[int]:
    return planned_deliveries(channel="sms", count=count)


def enqueue_in_cluster(func: str, *args, **options) -> None:
    """Queue a task for the real cluster (the test settings run tasks inline);
    ``options``: django-q2's, such as a task's own ``timeout``."""
    from django_q.tasks import async_task

    async_task(func, *args, sync=False, **options)


def enqueue_deliveries(ids: list[int], batch: int = 50, **options) -> None:
    for start in range(0, len(ids), batch):
        enqueue_in_cluster(
            "messaging.tasks.deliveries_process", ids[start : start + batch], **options
        )


def wait_until(predicate, timeout: float, every: float = 0.5, poke=None) -> bool:
    """Whether ``predicate()`` came true within ``timeout`` seconds; ``poke()``
    between looks."""
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


def requeue_every(seconds: float):
    """A poke for ``wait_until``: what the one-minute schedule does, more often."""
    last = [0.0]

    def poke() -> None:
        if time.monotonic() - last[0] > seconds:
            last[0] = time.monotonic()
            enqueue_in_cluster("messaging.tasks.deliveries_requeue_due")

    return poke


def statuses(ids: list[int]) -> dict[str, int]:
    rows = Delivery.objects.filter(pk__in=ids).values_list("status")
    return dict(rows.annotate(n=Count("pk")))


def assert_each_sent_once(fake: FakeProvider, count: int) -> None:
    """By the provider's own count: every delivery, once."""
    sent = fake.sent()
    twice = sorted(key for key, n in sent.items() if n > 1)
    assert (len(sent), twice) == (count, [])


def cluster_queue_empty() -> bool:
    """Whether the clusters have no task left, queued or running: the ORM
    broker deletes a task's row once a worker acknowledges it, failures
    included (``ack_failures``)."""
    from django_q.models import OrmQ

    return not OrmQ.objects.exists()

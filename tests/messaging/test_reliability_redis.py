"""Redis stops in the middle of a campaign (issue 17, item 8): PostgreSQL, a
real qcluster, the fake Sinch over HTTP, and a Redis of the test's own that it
kills. Every channel but the live push keeps its normal pace, nothing is left
in ``sending``, and the web answers as docs/architecture.md ("Redis") says."""

import logging
import time

import pytest

from django.test import Client
from django.urls import reverse

from api.keys import api_key_create
from api.scopes import Scope
from config.settings import redis_caches, redis_channel_layers
from messaging.models import Delivery
from tests.clinic.factories import OrganizationFactory, UserFactory
from tests.messaging.inapp_support import channel_statuses, inapp_and_sms
from tests.support.clusters import (
    RELIABILITY,
    enqueue_deliveries,
    sms_env,
    wait_until,
)
from tests.support.processes import Cluster, FakeSinch
from tests.support.redis import REDIS_SERVER, private_redis

# The reliability tests' marks (slow, PostgreSQL, real transactions).
pytestmark = [
    *RELIABILITY,
    pytest.mark.skipif(REDIS_SERVER is None, reason="needs redis-server"),
]
logger = logging.getLogger(__name__)
RECIPIENTS = 2000  # each with an in-app and an SMS delivery
STOP_AT = 0.25  # share of the campaign done when Redis stops
SLOWER_AT_MOST = 3  # generous: two cores shared with the fake, PostgreSQL, tests
PASSWORD = "correct horse battery"


def campaign_env(fake: FakeSinch, redis_url: str) -> dict[str, str]:
    """The reliability tests' cluster, its Redis the test's own. The lease is
    the default 300 s: a batch abandoned by a raising backend waits that long
    in ``sending``, the failure this test exists to find."""
    return sms_env(fake) | {
        "REDIS_URL": redis_url,
        "SMS_READ_TIMEOUT": "2",
        "Q_TIMEOUT": "60",
        "Q_RETRY": "90",
        "MESSAGING_LEASE_SECONDS": "300",
        "MESSAGING_DELIVERY_BATCH": "100",
    }


def done(ids: list[int]) -> int:
    return Delivery.objects.filter(pk__in=ids, status__in=("sent", "delivered")).count()


def send_all(ids: list[int], *, timeout: float) -> float:
    """Queue ``ids`` for the cluster; the seconds until all were sent."""
    started = time.monotonic()
    enqueue_deliveries(ids, batch=100)
    assert wait_until(lambda: done(ids) == len(ids), timeout=timeout, every=0.2), (
        channel_statuses(ids)
    )
    return time.monotonic() - started


class Web:
    """Requests a web process would serve, through Django's test client, with
    the same Redis as the cluster."""

    def __init__(self) -> None:
        organization = OrganizationFactory(slug="web", name="Web clinic")
        _key, raw = api_key_create(
            organization=organization, name="EHR", scopes=[Scope.PATIENTS_READ]
        )
        self.api = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
        user = UserFactory(username="camille")
        user.set_password(PASSWORD)
        user.save()

    def answers(self) -> dict[str, tuple[int, float]]:
        """Each endpoint's (status, seconds)."""
        calls = {
            "api": lambda: self.api.get("/api/v1/patients/"),
            "verify": lambda: Client().post(reverse("verify"), {"code": "ZZZZ2222"}),
            "sign-in": lambda: Client().post(
                reverse("account_login"), {"login": "camille", "password": PASSWORD}
            ),
            "healthz": lambda: Client().get(reverse("healthz")),
        }
        answers = {}
        for name, call in calls.items():
            started = time.monotonic()
            response = call()
            answers[name] = (response.status_code, time.monotonic() - started)
            if name == "healthz":
                self.health = response.json()
        return answers


def test_redis_stopped_mid_campaign_slows_nothing_but_the_live_push(settings):
    with private_redis() as redis:
        fake = FakeSinch()
        settings.CACHES = redis_caches(redis.url)
        settings.CHANNEL_LAYERS = redis_channel_layers(redis.url)
        web = Web()
        cluster = Cluster(campaign_env(fake, redis.url))
        try:
            # given: the cluster's pace with Redis up, on a campaign as large
            send_all(inapp_and_sms(20), timeout=60)  # the cluster is ready
            before = web.answers()  # and so is this process
            normal = send_all(inapp_and_sms(RECIPIENTS), timeout=180)
            ids = inapp_and_sms(RECIPIENTS)
            # when: Redis is killed a quarter of the way through the next one
            started = time.monotonic()
            enqueue_deliveries(ids, batch=100)
            assert wait_until(
                lambda: done(ids) >= len(ids) * STOP_AT, timeout=120, every=0.05
            )
            redis.stop()
            stopped = time.monotonic()
            remaining = len(ids) - done(ids)
            answers = web.answers()
            # then: the rest goes out at the normal pace, give or take
            assert wait_until(
                lambda: done(ids) == len(ids),
                timeout=SLOWER_AT_MOST * normal + 30,
                every=0.2,
            ), channel_statuses(ids)
            finished = time.monotonic()
        finally:
            cluster.stop()
            fake_sent = fake.sent()
            fake.stop()
    normal_rate = 2 * RECIPIENTS / normal
    down_rate = remaining / (finished - stopped)
    logger.info(  # shown by pytest -rP
        "deliveries per second: %.0f with Redis, %.0f after it stopped; "
        "campaign %.1f s",
        normal_rate,
        down_rate,
        finished - started,
    )
    assert down_rate > normal_rate / SLOWER_AT_MOST, (normal_rate, down_rate)
    # nothing left in sending; each SMS reached the provider once
    assert channel_statuses(ids) == {
        ("inapp", "delivered"): RECIPIENTS,
        ("sms", "sent"): RECIPIENTS,
    }
    assert len(fake_sent) == 20 + RECIPIENTS + RECIPIENTS  # warm-up, normal, this
    assert set(fake_sent.values()) == {1}
    # and the web answered as documented while Redis was down, within a second
    expected = {"api": 200, "verify": 200, "sign-in": 302, "healthz": 200}
    assert {name: status for name, (status, _) in before.items()} == expected
    assert {name: status for name, (status, _) in answers.items()} == expected
    assert max(seconds for _, seconds in answers.values()) < 1, answers
    assert web.health["status"] == "degraded"
    assert web.health["checks"]["cache"]["status"] == "degraded"

"""What keeps the hot reads cheap (docs/api.md, Throughput) and must not
change what they answer: keys remembered a few seconds per process, the
throttle counter in one round trip, serializer fields built once."""

import time

import pytest
import redis
from rest_framework import serializers

from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

import api.keys
from api.models import ApiKey
from api.scopes import Scope
from api.serializers.messages import MessageSerializer
from api.serializers.patients import PatientSerializer
from api.throttling import throttle_cache_key
from messaging.services import message_send
from tests.api.api_support import PATIENTS, assert_problem
from tests.clinic.factories import PatientFactory
from tests.consent.factories import TopicFactory
from tests.messaging.factories import TemplateFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("daytime")]


@pytest.fixture
def clock(monkeypatch):
    """The key cache's clock, moved by hand."""
    now = [1000.0]
    monkeypatch.setattr(api.keys, "_clock", lambda: now[0])
    return now


def key_queries(client, path=PATIENTS) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    return sum('"api_apikey"' in q["sql"] for q in queries.captured_queries)


def test_a_key_is_read_once_within_the_delay(make_client, clock, settings):
    settings.API_KEY_CACHE_SECONDS = 5
    client, _key = make_client()
    assert key_queries(client) == 2  # read, and last_used_at noted
    assert key_queries(client) == 0
    clock[0] += 6
    assert key_queries(client) == 1


def test_no_delay_reads_the_key_each_time(make_client, clock, settings):
    settings.API_KEY_CACHE_SECONDS = 0
    client, _key = make_client()
    key_queries(client)
    assert key_queries(client) == 1


def test_a_revocation_in_another_process_counts_after_the_delay(
    make_client, clock, settings
):
    """Another process's change is an UPDATE this one does not hear of."""
    settings.API_KEY_CACHE_SECONDS = 5
    client, key = make_client()
    assert client.get(PATIENTS).status_code == 200
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
    assert client.get(PATIENTS).status_code == 200
    clock[0] += 5.1
    assert_problem(client.get(PATIENTS), 401)


def test_a_change_saved_in_this_process_counts_at_once(make_client, clock, settings):
    settings.API_KEY_CACHE_SECONDS = 60
    client, key = make_client()
    assert client.get(PATIENTS).status_code == 200
    key.scopes = [Scope.MESSAGES_READ]
    key.save()
    assert_problem(client.get(PATIENTS), 403)


@pytest.mark.skipif(
    not isinstance(caches["default"], RedisCache),
    reason="the one-round-trip path is Redis's",
)
def test_the_redis_counter_expires_and_reads_back(make_client, settings):
    client, key = make_client(rate_per_minute=1000)
    client.get(PATIENTS)
    client.get(PATIENTS)
    # WEEKDAY_NOON_PARIS is on the minute: both calls count in one window.
    counter = throttle_cache_key(key, int(time.time() // 60))
    assert cache.get(counter) == 2
    raw = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])
    assert 0 < raw.ttl(cache.make_and_validate_key(counter)) <= 120


class PlainPatientSerializer(PatientSerializer):
    """DRF's own way: fields built for each serializer."""

    _readable_fields = serializers.Serializer._readable_fields


class PlainMessageSerializer(MessageSerializer):
    _readable_fields = serializers.Serializer._readable_fields


def test_patients_read_as_drf_would_and_each_as_itself(organization, monkeypatch):
    first = PatientFactory(organization=organization, phone="+33612345678")
    second = PatientFactory(organization=organization, erased_at=timezone.now())
    assert PatientSerializer(first).data["id"]  # builds the fields
    built = []
    original = PatientSerializer.get_fields
    monkeypatch.setattr(
        PatientSerializer, "get_fields", lambda s: built.append(s) or original(s)
    )
    answers = [PatientSerializer(p).data for p in (first, second)]
    assert built == []
    assert answers == [PlainPatientSerializer(p).data for p in (first, second)]
    assert answers[0]["phone"] == "+33612345678"
    assert [a["erased"] for a in answers] == [False, True]


def test_messages_read_as_drf_would(organization):
    topic = TopicFactory(organization=organization, purpose="care")
    TemplateFactory(topic=topic, channel="inapp", language="fr", body="Bonjour")
    TemplateFactory(topic=topic, channel="inapp", language="en", body="Hello")
    patients = PatientFactory.create_batch(2, organization=organization)
    messages = [message_send(patient=p, topic=topic, origin="api") for p in patients]
    answers = [MessageSerializer(m).data for m in messages]
    assert answers == [PlainMessageSerializer(m).data for m in messages]
    assert [a["patient"] for a in answers] == [str(p.public_id) for p in patients]
    assert answers[0]["deliveries"][0]["channel"] == "inapp"

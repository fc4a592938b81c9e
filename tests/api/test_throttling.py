"""Per-key rate limits: one counter per key and clock minute on the shared
cache, so a request costs the same whatever the key's rate."""

import datetime

import pytest
import time_machine

from django.core.cache import cache

from api.throttling import throttle_cache_key
from tests.api.api_support import PATIENTS, assert_problem

pytestmark = pytest.mark.django_db

MINUTE_START = datetime.datetime(2026, 3, 10, 10, 0, 5, tzinfo=datetime.UTC)
WINDOW = int(MINUTE_START.timestamp() // 60)


def test_a_request_adds_one_to_the_minutes_counter(make_client):
    """The cache holds a count per minute, not every request's time."""
    # given
    client, key = make_client(rate_per_minute=1000)
    with time_machine.travel(MINUTE_START, tick=False):
        # when
        for _ in range(5):
            client.get(PATIENTS)
        # then
        assert cache.get(throttle_cache_key(key, WINDOW)) == 5


def test_the_budget_comes_back_with_the_next_minute(make_client):
    """429 until the minute ends, with Retry-After to its end; then allowed."""
    # given
    client, _key = make_client(rate_per_minute=2)
    with time_machine.travel(MINUTE_START, tick=False):
        client.get(PATIENTS)
        client.get(PATIENTS)
        # when
        refused = client.get(PATIENTS)
    # then
    assert_problem(refused, 429)
    assert int(refused["Retry-After"]) == 55
    with time_machine.travel(MINUTE_START + datetime.timedelta(seconds=60)):
        assert client.get(PATIENTS).status_code == 200

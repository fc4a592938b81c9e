"""The shared cache falls back to the process's memory while Redis is
unreachable, pays Redis's timeout once per retry period at most, and goes
back to Redis when it answers again."""

import logging
import time

import pytest
import redis

from django.core.cache import caches

from config.settings import redis_caches
from core import breaker as breaker_module
from core.breaker import Breaker
from core.cache import counter_hit
from tests.support.redis import (
    REDIS_SERVER,
    hanging_port,
    private_redis,
    refusing_url,
)


@pytest.fixture
def clock(monkeypatch):
    """The breakers' clock, moved by hand: ``clock[0] += seconds``."""
    now = [1000.0]
    monkeypatch.setattr(breaker_module, "_clock", lambda: now[0])
    return now


def _cache_at(settings, url: str):
    settings.CACHES = redis_caches(url)
    return caches["default"]


def test_with_redis_refusing_every_operation_works_from_memory(settings):
    """No exception reaches the caller: the cache API behaves as a local cache."""
    # given
    cache = _cache_at(settings, refusing_url())
    # when
    cache.set("greeting", "hello", 60)
    added = cache.add("counter", 1, 60)
    incremented = cache.incr("counter")
    hits = [counter_hit(cache, "hits", timeout=60) for _ in range(3)]
    # then
    assert cache.get("greeting") == "hello"
    assert (added, incremented, hits) == (True, 2, [1, 2, 3])
    assert cache.get_many(["greeting", "counter"]) == {
        "greeting": "hello",
        "counter": 2,
    }
    assert cache.delete("greeting") is True
    assert cache.has_key("greeting") is False
    assert cache.degraded


def test_a_hanging_redis_costs_one_timeout_per_retry_period(settings, clock):
    """A Redis that accepts and never answers holds the first call for
    REDIS_TIMEOUT (0.5 s); the next calls of the period go straight to memory."""
    with hanging_port() as port:
        # given
        cache = _cache_at(settings, f"redis://127.0.0.1:{port}/0")
        # when
        started = time.monotonic()
        cache.get("first")
        first = time.monotonic() - started
        started = time.monotonic()
        for n in range(200):
            counter_hit(cache, f"ip-{n % 5}", timeout=60)
        next_ones = time.monotonic() - started
    # then
    assert 0.4 < first < 1
    assert next_ones < 0.2
    assert cache.get("ip-0") == 40


def test_the_loss_is_logged_once_without_keys(settings, caplog):
    cache = _cache_at(settings, refusing_url())
    with caplog.at_level(logging.WARNING, logger="core.breaker"):
        for n in range(20):
            cache.set(f"otp-failures:10.0.0.{n}", n)
    assert len(caplog.records) == 1
    assert "Redis unreachable (ConnectionError)" in caplog.text
    assert "10.0.0" not in caplog.text
    assert "127.0.0.1" not in caplog.text  # a Redis URL may hold a password


def test_one_caller_probes_redis_per_retry_period(clock):
    # given: a breaker opened by a failure
    breaker = Breaker("test", retry_seconds=5)
    breaker.failed(ConnectionError())
    # when / then: nobody tries Redis before the period ends, one caller after
    assert not breaker.allows()
    clock[0] += 5
    assert [breaker.allows() for _ in range(3)] == [True, False, False]
    # and a failed probe waits another period; a good one closes the breaker
    breaker.failed(ConnectionError())
    clock[0] += 4.9
    assert not breaker.allows()
    clock[0] += 0.1
    assert breaker.allows()
    breaker.succeeded()
    assert [breaker.allows() for _ in range(2)] == [True, True]


@pytest.mark.skipif(REDIS_SERVER is None, reason="needs redis-server")
def test_the_cache_fails_over_and_comes_back(settings, clock):
    """Redis stops: memory; Redis back (empty, as after a crash): Redis again
    once the retry period is over."""
    with private_redis() as server:
        # given: the cache on a Redis of its own
        cache = _cache_at(settings, server.url)
        direct = redis.Redis.from_url(server.url)
        cache.set("before", 1)
        assert direct.exists(cache.make_key("before"))
        # when: Redis stops
        server.stop()
        cache.set("during", 2)
        # then: this process goes on from its memory
        assert cache.get("during") == 2
        assert cache.get("before") is None
        assert cache.degraded
        # when: Redis is back, and the retry period is over
        server.start()
        direct = redis.Redis.from_url(server.url)
        assert cache.get("during") == 2  # still within the period: memory
        clock[0] += cache.breaker.retry_seconds
        cache.set("after", 3)
        # then: writes reach Redis again
        assert direct.exists(cache.make_key("after"))
        assert not cache.degraded
        assert cache.get("during") is None  # memory is not read any more

"""The shared cache: Redis, and this process's memory while Redis is unreachable.

Every user of the cache is a limit or a hint (rate limits, throttles, the OTP
failure count, allauth's limits, django-q2's cluster statistics): none holds
the truth, which lives in PostgreSQL (sessions, lockouts, idempotency keys).
So when Redis cannot be reached, a request must not fail: each process counts
on its own until Redis answers again, and the limits become per-process
limits (docs/architecture.md, "Redis"). Short socket timeouts bound what one
request can lose to a Redis that hangs, and a circuit breaker keeps a process
from paying that timeout on every call: after a failure the process uses its
memory for ``RETRY_SECONDS``, then one call tries Redis again.
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache

from core.breaker import UNREACHABLE, breaker_for


class FailoverRedisCache(RedisCache):
    """Django's RedisCache that serves from this process's memory while Redis
    is unreachable, instead of raising.

    ``OPTIONS["RETRY_SECONDS"]`` (5): how long a process works from memory
    after a failure before it tries Redis again. The other options go to
    redis-py's connection pool as with RedisCache: give it
    ``socket_connect_timeout`` and ``socket_timeout``, or a Redis that hangs
    holds each request for redis-py's default 5 seconds.

    Values written to memory stay in this process: they are not copied to
    Redis when it comes back, and the memory is not read again until the next
    failure (a rate-limit counter restarts from what Redis holds).
    """

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        options = dict(params.get("OPTIONS") or {})
        retry_seconds = float(options.pop("RETRY_SECONDS", 5))
        super().__init__(server, {**params, "OPTIONS": options})
        self.breaker = breaker_for(server, label="cache", retry_seconds=retry_seconds)
        # One memory per process and location: LocMemCache instances of the
        # same name share their storage, whichever thread made them.
        self.local = LocMemCache(
            f"failover:{server}",
            {
                "TIMEOUT": params.get("TIMEOUT", 300),
                "KEY_PREFIX": self.key_prefix,
                "VERSION": self.version,
                "KEY_FUNCTION": self.key_func,
                "OPTIONS": {"MAX_ENTRIES": 10_000},
            },
        )

    @property
    def degraded(self) -> bool:
        """Whether this process is working from memory now."""
        return self.breaker.is_open

    def _run(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call RedisCache's ``name``, or the memory's while Redis is out."""
        if self.breaker.allows():
            try:
                result = getattr(RedisCache, name)(self, *args, **kwargs)
            except UNREACHABLE as error:
                self.breaker.failed(error)
            else:
                self.breaker.succeeded()
                return result
        return getattr(self.local, name)(*args, **kwargs)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._run("add", key, value, timeout, version)

    def get(self, key, default=None, version=None):
        return self._run("get", key, default, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._run("set", key, value, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._run("touch", key, timeout, version)

    def delete(self, key, version=None):
        return self._run("delete", key, version)

    def get_many(self, keys, version=None):
        return self._run("get_many", keys, version)

    def has_key(self, key, version=None):
        return self._run("has_key", key, version)

    def incr(self, key, delta=1, version=None):
        return self._run("incr", key, delta, version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._run("set_many", data, timeout, version)

    def delete_many(self, keys, version=None):
        return self._run("delete_many", keys, version)

    def clear(self):
        return self._run("clear")

    def count(self, key: str, *, timeout: int) -> int:
        """``counter_hit`` on Redis in one round trip: INCR and EXPIRE in one
        pipeline (the cache API's incr() first asks whether the key exists,
        and a first hit needs an add() too). The value stays a plain integer,
        which get() reads back."""
        if self.breaker.allows():
            try:
                full_key = self.make_and_validate_key(key)
                client = self._cache.get_client(full_key, write=True)
                pipe = client.pipeline(transaction=False)
                pipe.incr(full_key)
                pipe.expire(full_key, timeout)
                value, _expiry_set = pipe.execute()
            except UNREACHABLE as error:
                self.breaker.failed(error)
            else:
                self.breaker.succeeded()
                return value
        return _counter_hit_api(self.local, key, timeout)

    def ping(self) -> None:
        """One round trip to Redis itself, whatever the breaker says; raises
        what redis-py raises (the health check reports it)."""
        self._cache.get_client(None, write=True).ping()


def counter_hit(cache: BaseCache, key: str, *, timeout: int) -> int:
    """Add one to the counter ``key`` of ``cache`` and return its new value;
    the counter lives at least ``timeout`` seconds after its first hit."""
    if isinstance(cache, FailoverRedisCache):
        return cache.count(key, timeout=timeout)
    return _counter_hit_api(cache, key, timeout)


def _counter_hit_api(cache: BaseCache, key: str, timeout: int) -> int:
    try:
        return cache.incr(key)
    except ValueError:  # the first hit, or the counter expired
        if cache.add(key, 1, timeout=timeout):
            return 1
        return cache.incr(key)

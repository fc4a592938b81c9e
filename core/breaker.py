"""A circuit breaker per process for Redis, shared by every thread.

Redis holds nothing Liaison cannot do without (docs/architecture.md, "Redis"):
the cache falls back to the process's memory and live notices are dropped.
The breaker keeps a process from paying a timeout on every call while Redis
is out: after a failure, callers go without Redis for ``retry_seconds``; then
one call, and only one, tries again, and its outcome closes or re-opens the
breaker.
"""

from __future__ import annotations

import logging
import threading
import time

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

# What "Redis is unreachable" looks like through redis-py and asyncio:
# refused, reset, unknown host, a connect or read past its timeout (OSError
# covers the builtin TimeoutError that asyncio.wait_for raises), Redis loading.
UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)

_clock = time.monotonic  # the breakers' clock (tests move it)


class Breaker:
    """Whether this process should ask Redis now. Logs once when Redis is
    lost and once when it answers again, never per call."""

    def __init__(self, name: str, *, retry_seconds: float) -> None:
        self.name = name
        self.retry_seconds = retry_seconds
        self.is_open = False
        self.retry_at = 0.0
        self.lock = threading.Lock()

    def allows(self) -> bool:
        """True when this call should try Redis: always while closed; once
        per ``retry_seconds`` while open (the caller then reports back)."""
        if not self.is_open:
            return True
        with self.lock:
            now = _clock()
            if now < self.retry_at:
                return False
            self.retry_at = now + self.retry_seconds  # this caller probes
            return True

    def succeeded(self) -> None:
        if self.is_open:
            with self.lock:
                if self.is_open:
                    self.is_open = False
                    logger.warning("%s: Redis answers again", self.name)

    def failed(self, error: BaseException) -> None:
        with self.lock:
            self.retry_at = _clock() + self.retry_seconds
            if not self.is_open:
                self.is_open = True
                logger.warning(
                    "%s: Redis unreachable (%s); going on without it, "
                    "trying again every %s s",
                    self.name,
                    type(error).__name__,
                    self.retry_seconds,
                )


_breakers: dict[str, Breaker] = {}
_breakers_lock = threading.Lock()


def breaker_for(key: str, *, label: str, retry_seconds: float) -> Breaker:
    """The process-wide breaker of ``key`` (a Redis URL: one per server),
    made on first use; ``label`` names it in logs (never the URL, which may
    hold a password). The latest ``retry_seconds`` applies."""
    with _breakers_lock:
        if key not in _breakers:
            _breakers[key] = Breaker(label, retry_seconds=retry_seconds)
        breaker = _breakers[key]
        breaker.retry_seconds = retry_seconds
        return breaker


def breakers_reset() -> None:
    """Close every breaker (tests start each from Redis reachable)."""
    with _breakers_lock:
        for breaker in _breakers.values():
            breaker.is_open, breaker.retry_at = False, 0.0

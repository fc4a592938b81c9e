"""Per-key rate limits on the shared cache (Redis in production), so every
web process counts the same requests; while Redis is unreachable each process
counts on its own (core/cache.py; docs/api.md, "Rate limits with Redis down")."""

import time

from rest_framework.throttling import BaseThrottle

from django.core.cache import caches

from api.models import ApiKey
from core.cache import counter_hit
from core.client_address import client_ip

WINDOW = 60  # seconds: ApiKey.rate_per_minute


def throttle_cache_key(key: ApiKey, window: int) -> str:
    return f"throttle:api_key:{key.pk}:{window}"


class ClientAddressThrottle(BaseThrottle):
    """Every throttle of the API derives from this one: DRF's ``get_ident``
    (what its address-based throttles count by) reads REMOTE_ADDR, or with
    ``NUM_PROXIES`` unset the whole X-Forwarded-For header, which the client
    writes. The project's one helper knows the trusted proxies instead."""

    def get_ident(self, request) -> str:
        return client_ip(request) or "unknown"


class ApiKeyRateThrottle(ClientAddressThrottle):
    """At most ``rate_per_minute`` requests per key in each clock minute.

    One counter per key and minute, incremented once per request: the cost
    does not grow with the rate. (DRF's SimpleRateThrottle keeps the time of
    every request of the last minute in one cache value, read and written
    whole on each request: 60,000 timestamps per call for a key at 1,000
    requests a second.)
    """

    def allow_request(self, request, view) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            return True
        now = time.time()
        window = int(now // WINDOW)
        count = counter_hit(
            caches["default"], throttle_cache_key(key, window), timeout=WINDOW * 2
        )
        self.retry_after = (window + 1) * WINDOW - now
        return count <= key.rate_per_minute

    def wait(self) -> float:
        return self.retry_after

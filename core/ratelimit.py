"""A fixed-window rate limit on the shared cache (Redis in production).

Used by public pages that must not be brute-forced (the verify page); the
partner API uses DRF throttling on the same cache.
"""

from django.core.cache import cache


def allow(key: str, *, limit: int, window_seconds: int) -> bool:
    """Count one attempt for ``key``; True when it is allowed (at most
    ``limit`` per window), False when it is over the limit."""
    cache_key = f"ratelimit:{key}"
    if cache.add(cache_key, 1, timeout=window_seconds):
        return True
    try:
        count = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.add(cache_key, 1, timeout=window_seconds)
        return True
    return count <= limit

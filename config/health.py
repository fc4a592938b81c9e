"""``/healthz``: whether this process can reach what it needs to serve.

Load balancers and orchestrators probe it; it answers 200 when every check
passes and 503 otherwise, with one entry per check. Error texts are reduced to
the exception's class so that no connection string or host leaks out.
"""

import logging
import time
import uuid
from collections.abc import Callable

from django.core.cache import cache
from django.db import connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)


class CheckFailedError(Exception):
    """A failed check whose ``detail`` is safe to show (no hosts, no secrets)."""

    def __init__(self, message: str, detail: dict) -> None:
        super().__init__(message)
        self.detail = detail


def check_database() -> dict:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"vendor": connections["default"].vendor}


def check_cache() -> dict:
    key = f"healthz:{uuid.uuid4().hex}"
    cache.set(key, "ok", timeout=5)
    if cache.get(key) != "ok":
        raise RuntimeError("cache did not return the value just written")
    cache.delete(key)
    return {"backend": cache.__class__.__name__}


def check_broker() -> dict:
    from django_q.brokers import get_broker

    broker = get_broker()
    return {"broker": broker.__class__.__name__, "queued": broker.queue_size()}


def check_channels() -> dict:
    """Each channel's backend class and whether it can send; raises CheckFailedError
    naming the channels that cannot (missing credentials, bad path)."""
    from messaging.selectors import channels_status

    channels = channels_status()
    down = sorted(name for name, detail in channels.items() if not detail["available"])
    if down:
        raise CheckFailedError(
            f"unavailable: {', '.join(down)}",
            {"unavailable": down, "channels": channels},
        )
    return {"channels": channels}


CHECKS: dict[str, Callable[[], dict]] = {
    "database": check_database,
    "cache": check_cache,
    "broker": check_broker,
    "channels": check_channels,
}


def run_checks() -> tuple[bool, dict]:
    healthy = True
    results: dict = {}
    for name, check in CHECKS.items():
        started = time.monotonic()
        try:
            detail = check()
        except Exception as exc:  # any failure makes the process unhealthy
            healthy = False
            logger.warning("healthz: %s check failed: %s", name, type(exc).__name__)
            detail = {"status": "down", "error": type(exc).__name__}
            if isinstance(exc, CheckFailedError):
                detail |= exc.detail
        else:
            detail = {"status": "ok", **detail}
        detail["ms"] = round((time.monotonic() - started) * 1000, 1)
        results[name] = detail
    return healthy, results


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    healthy, checks = run_checks()
    return JsonResponse(
        {"status": "ok" if healthy else "down", "checks": checks},
        status=200 if healthy else 503,
    )

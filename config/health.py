"""Health for load balancers and orchestrators, answered within a second.

- ``/healthz/live``: the process answers (no dependency is touched): a
  liveness probe restarts a process only when it is stuck, never because the
  database is away.
- ``/healthz/ready``: the database (with the django-q2 queue in it) and the
  cache: whether this process should receive traffic.
- ``/healthz``: every check, channels included (kept for compatibility and
  for people).

Load balancers and orchestrators probe them. Every check runs in its own thread,
all at once, and the answer leaves after ``HEALTHZ_TIMEOUT`` seconds (0.8)
whatever a check is still doing: that check is reported ``timeout``. A check
that hangs is not started again by the next probes while it runs (they report
it ``timeout`` at once), so a hung dependency never piles up threads.

What answers 503 (takes the node out) and what only degrades (docs/architecture.md,
"Redis"):

- ``database`` and ``broker`` (the django-q2 queue lives in the database):
  without them nothing can be served. Fatal.
- ``channels``: a channel backend without its credentials. Only degrades:
  sends on that channel are held back or fall back (the delivery log says
  why), while pages, the API and the other channels keep serving; taking
  every web process out of rotation for it would stop all of that too.
- ``cache`` (Redis): every node shares the one Redis, so a 503 would take
  them all out at once while each can still serve: its cache falls back to the
  process's memory (``core.cache``) and live notices are best effort. The
  answer stays 200 with ``"status": "degraded"``.

Error texts are reduced to the exception's class so that no connection string
or host leaks out.
"""

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.db import connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core.cache import FailoverRedisCache

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
    """Redis itself (one PING, bounded by its socket timeout), whatever this
    process's cache falls back to; a round trip through any other cache."""
    cache = caches["default"]
    if isinstance(cache, FailoverRedisCache):
        detail = {"backend": "redis", "fallback_in_use": cache.degraded}
        try:
            cache.ping()
        except Exception as exc:
            error = type(exc).__name__
            raise CheckFailedError(error, detail | {"error": error}) from exc
        return detail
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


@dataclass(frozen=True)
class Check:
    run: Callable[[], dict]
    fatal: bool  # a failure takes the node out (503); otherwise "degraded"


CHECKS: dict[str, Check] = {
    "database": Check(check_database, fatal=True),
    "cache": Check(check_cache, fatal=False),
    "broker": Check(check_broker, fatal=True),
    "channels": Check(check_channels, fatal=False),
}
# What ``/healthz/ready`` asks: whether this process should get traffic.
READY_CHECKS = ("database", "broker", "cache")


class _Probe(threading.Thread):
    """One check in its own thread, with its own database connection."""

    def __init__(self, name: str, check: Check) -> None:
        super().__init__(name=f"healthz-{name}", daemon=True)
        self.check = check
        self.started_at = time.monotonic()
        self.detail: dict | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.detail = self.check.run()
        except Exception as exc:  # any failure is reported, never raised
            self.error = exc
        finally:
            connections.close_all()  # this thread's own connections


_running: dict[str, _Probe] = {}  # the latest probe of each check
_running_lock = threading.Lock()


def _start(name: str, check: Check) -> _Probe | None:
    """A new probe of ``check``, or None while the previous one still runs."""
    with _running_lock:
        previous = _running.get(name)
        if previous is not None and previous.is_alive():
            return None
        probe = _running[name] = _Probe(name, check)
    probe.start()
    return probe


def _result(name: str, probe: _Probe | None, started: float) -> dict:
    """The check's detail with its status: "ok", or on a failure or a timeout
    "down" when the check is fatal and "degraded" otherwise."""
    failed = "down" if CHECKS[name].fatal else "degraded"
    if probe is None or probe.is_alive():
        logger.warning("healthz: %s check timed out", name)
        ms = round((time.monotonic() - started) * 1000, 1)
        return {"status": failed, "error": "Timeout", "ms": ms}
    ms = round((time.monotonic() - probe.started_at) * 1000, 1)
    if probe.error is None:
        return {"status": "ok", **probe.detail, "ms": ms}
    error = probe.error
    detail = {"status": failed, "error": type(error).__name__}
    if isinstance(error, CheckFailedError):
        detail |= error.detail
    logger.warning("healthz: %s check failed: %s", name, detail["error"])
    return detail | {"ms": ms}


def run_checks(names: tuple[str, ...] | None = None) -> tuple[str, dict]:
    """Run the named checks (every check by default) at once; return the overall
    status ("ok", "degraded" or "down") and each check's detail, within
    HEALTHZ_TIMEOUT seconds."""
    started = time.monotonic()
    deadline = started + settings.HEALTHZ_TIMEOUT
    wanted = CHECKS if names is None else {name: CHECKS[name] for name in names}
    probes = {name: _start(name, check) for name, check in wanted.items()}
    for probe in probes.values():
        if probe is not None:
            probe.join(max(0.0, deadline - time.monotonic()))
    results = {name: _result(name, probe, started) for name, probe in probes.items()}
    statuses = {detail["status"] for detail in results.values()}
    for status in ("down", "degraded"):
        if status in statuses:
            return status, results
    return "ok", results


def _answer(status: str, checks: dict) -> JsonResponse:
    return JsonResponse(
        {"status": status, "checks": checks}, status=503 if status == "down" else 200
    )


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return _answer(*run_checks())


@never_cache
@require_GET
def healthz_ready(request: HttpRequest) -> JsonResponse:
    return _answer(*run_checks(READY_CHECKS))


@never_cache
@require_GET
def healthz_live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})

import contextvars

import pytest
import time_machine

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.core.cache import caches
from django.test import Client
from django.utils import translation

from tests.clinic.factories import OrganizationFactory, StaffMemberFactory, UserFactory
from tests.support.clock import WEEKDAY_NOON_PARIS


@pytest.fixture(autouse=True)
def _default_language():
    """A test that activates a language (a view rendering in the patient's)
    must not leave it active for the next test."""
    yield
    translation.activate(settings.LANGUAGE_CODE)


def _cache_clear() -> None:
    """Empty the cache, and the channel layer's keys when they are in Redis;
    Redis counts as reachable again (core/breaker.py).

    Only this run's keys (its prefixes): Django's ``RedisCache.clear()`` is
    FLUSHDB, which would also empty them under another pytest-xdist worker,
    another run, or the browser tests' stack in the middle of a test."""
    from django.core.cache.backends.redis import RedisCache

    from core.breaker import breakers_reset
    from core.cache import FailoverRedisCache

    breakers_reset()
    backend = caches["default"]  # not ``cache``: a proxy, never a RedisCache
    if isinstance(backend, FailoverRedisCache):
        backend.local.clear()
    if not isinstance(backend, RedisCache):
        backend.clear()
        return
    patterns = [f"{backend.key_prefix}:*"]
    layer = settings.CHANNEL_LAYERS["default"]
    if layer["BACKEND"] == "channels_redis.core.RedisChannelLayer":
        patterns.append(f"{layer['CONFIG']['prefix']}*")
    client = backend._cache.get_client(None, write=True)
    for pattern in patterns:
        keys = list(client.scan_iter(match=pattern, count=1000))
        for start in range(0, len(keys), 1000):
            client.unlink(*keys[start : start + 1000])


@pytest.fixture(autouse=True)
def _clear_cache():
    """The cache may be a shared Redis: start every test from an empty one."""
    _cache_clear()
    yield
    _cache_clear()


_forcing_login = contextvars.ContextVar("forcing_login", default=False)


def _verify_forced_login(sender, request, user, **kwargs):
    """``force_login`` also passes the second factor (portal and admin need
    one, issue 5) with a backup-code device made for the purpose."""
    if not _forcing_login.get():
        return
    from django_otp import login as otp_login
    from django_otp.plugins.otp_static.models import StaticDevice

    device, _created = StaticDevice.objects.get_or_create(
        user=user, name="test: verified", defaults={"confirmed": True}
    )
    request.user = user
    otp_login(request, device)


@pytest.fixture(autouse=True)
def _otp_verified_force_login(request, monkeypatch):
    """Tests of the second factor itself set ``REAL_OTP = True`` in their module."""
    if getattr(request.module, "REAL_OTP", False):
        yield
        return
    original = Client._login

    def _login(self, user, backend=None):
        token = _forcing_login.set(True)
        try:
            return original(self, user, backend)
        finally:
            _forcing_login.reset(token)

    monkeypatch.setattr(Client, "_login", _login)
    user_logged_in.connect(_verify_forced_login, dispatch_uid="tests-otp-force-login")
    yield
    user_logged_in.disconnect(dispatch_uid="tests-otp-force-login")


@pytest.fixture
def organization(db):
    return OrganizationFactory(name="Clinique des Lilas", slug="lilas")


@pytest.fixture
def other_organization(db):
    return OrganizationFactory(
        name="Riverside",
        slug="riverside",
        time_zone="America/New_York",
        default_language="en",
        country="US",
    )


@pytest.fixture
def staff_member(organization):
    return StaffMemberFactory(organization=organization, user__username="lilas.admin")


@pytest.fixture
def staff_client(client, staff_member):
    client.force_login(staff_member.user)
    return client


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def daytime():
    """The clock starts at WEEKDAY_NOON_PARIS (tests/support/clock.py: inside
    every sending window, where quiet hours and holidays would defer a send
    when the suite runs at night) and keeps ticking: workers and receivers in
    the test still see time pass."""
    with time_machine.travel(WEEKDAY_NOON_PARIS, tick=True):
        yield WEEKDAY_NOON_PARIS


@pytest.fixture
def on_commit_at_once(monkeypatch):
    """``transaction.on_commit`` runs its callback at once, as if each write
    had committed: the delivery task a send queues runs inside the service
    call, as a worker would right after the commit (the test's transaction
    never commits).

    For tests that assert after each of several steps of a flow (send, then
    read, then the next escalation...). pytest-django's
    ``django_capture_on_commit_callbacks(execute=True)`` runs the callbacks
    when its block ends instead: prefer it where one block around the test's
    "when" says the same."""
    from django.db import transaction

    monkeypatch.setattr(
        transaction, "on_commit", lambda fn, using=None, robust=False: fn()
    )

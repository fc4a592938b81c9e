"""Sign-in with Redis unreachable: allauth's rate limits and the per-address
limit on wrong codes count in the process's memory; the patient signs in,
never meets a 500, and the limits still hold in each process."""

import time

import pytest
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

from config.settings import redis_caches
from tests.portal.auth.support import (
    HOME,
    enter_code,
    five_wrong_passwords_lock_the_account,
    sign_in,
    wrong_codes_from_one_address_are_limited,
)
from tests.support.redis import UNREACHABLE, unreachable_redis

REAL_OTP = True  # tests/conftest.py: force_login does not pass the second factor here

pytestmark = pytest.mark.django_db


@pytest.fixture(params=UNREACHABLE)
def redis_down(request, settings):
    """The cache's Redis refuses connections, or accepts and never answers."""
    with unreachable_redis(request.param) as url:
        settings.CACHES = redis_caches(url)
        yield


def test_password_and_code_sign_in_without_redis(client, patient, redis_down):
    # given
    device = StaticDevice.objects.create(user=patient.user, name="b", confirmed=True)
    StaticToken.objects.create(device=device, token="abcd1234")
    # when
    started = time.monotonic()
    signed_in = sign_in(client)
    code = enter_code(client, device, "abcd1234", next=HOME)
    seconds = time.monotonic() - started
    # then
    assert signed_in.status_code == 302
    assert (code.status_code, code.url) == (302, HOME)
    assert client.get(HOME).status_code == 200
    assert seconds < 3  # one REDIS_TIMEOUT at most, then the process's memory


def test_wrong_passwords_still_lock_the_account(client, patient, redis_down):
    """django-axes counts failures in the database: Redis plays no part."""
    five_wrong_passwords_lock_the_account(client, patient)


def test_wrong_codes_are_still_limited_per_address(
    client, patient, redis_down, monkeypatch
):
    """Counted in this process's memory while Redis is out."""
    wrong_codes_from_one_address_are_limited(client, patient, monkeypatch)

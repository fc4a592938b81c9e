"""Signing in to the portal as its tests do: the sign-in and code forms,
and the two limit scenarios that test_auth_redis_down.py plays again with
Redis unreachable. The fixtures (the clock at noon, deliveries at once, a
patient with a password) are in conftest.py beside this module."""

import datetime

import time_machine
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

from django.urls import reverse

PASSWORD = "correct horse battery"
NOON = datetime.datetime(2026, 3, 10, 12, 0, tzinfo=datetime.UTC)

LOGIN = reverse("account_login")
HOME = reverse("portal:home")
VERIFY = reverse("portal:auth_verify")


def sign_in(client, username="camille", password=PASSWORD):
    return client.post(LOGIN, {"login": username, "password": password})


def enter_code(client, device, token, **extra):
    return client.post(
        VERIFY, {"device": device.persistent_id, "token": token, **extra}
    )


def five_wrong_passwords_lock_the_account(client, patient):
    """Five wrong passwords from one address lock the account there
    (tests/portal/test_auth_lockout.py has the rest)."""
    for _ in range(5):
        sign_in(client, password="wrong")
    response = sign_in(client)  # the right password, too late
    assert response.status_code == 429
    assert "too many wrong sign-in attempts" in response.content.decode()
    assert "paused for 15 minutes" in response.content.decode()


def wrong_codes_from_one_address_are_limited(client, patient, monkeypatch):
    """Wrong second-factor codes from one address are limited (two here)."""
    from portal.auth import throttling

    monkeypatch.setattr(throttling, "OTP_IP_LIMIT", 2)
    device = StaticDevice.objects.create(user=patient.user, name="b", confirmed=True)
    StaticToken.objects.create(device=device, token="abcd1234")
    sign_in(client)
    for seconds in (0, 5):
        with time_machine.travel(NOON + datetime.timedelta(seconds=seconds)):
            enter_code(client, device, "wrong")
    with time_machine.travel(NOON + datetime.timedelta(minutes=1)):
        response = enter_code(client, device, "abcd1234")
    assert "Too many wrong codes from this connection." in response.content.decode()

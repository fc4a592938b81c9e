"""Staff sign-in to admin (issue 18): the password on one page, the second
factor on its own page with the devices listed from the start, no password
written back into any page, and the lockout on both pages."""

import datetime

import pytest
import time_machine
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from django.test import Client
from django.urls import reverse

REAL_OTP = True  # tests/conftest.py: force_login does not pass the second factor
PASSWORD = "Typed-Pa55word-Never-Echoed"
NOON = datetime.datetime(2026, 3, 10, 12, 0, tzinfo=datetime.UTC)
LOGIN = reverse("admin:login")
SECOND = reverse("admin:login_second_factor")
INDEX = reverse("admin:index")


@pytest.fixture(autouse=True)
def _at_noon():
    with time_machine.travel(NOON, tick=False):
        yield


@pytest.fixture
def staff(staff_member):
    user = staff_member.user
    user.set_password(PASSWORD)
    user.save()
    return user


@pytest.fixture
def devices(staff):
    app = TOTPDevice.objects.create(user=staff, name="Phone", confirmed=True)
    backup = StaticDevice.objects.create(user=staff, name="", confirmed=True)
    StaticToken.objects.create(device=backup, token="staff123")
    return app, backup


def password_step(client, password=PASSWORD, username="lilas.admin", **extra):
    return client.post(
        LOGIN, {"username": username, "password": password, "next": INDEX, **extra}
    )


def code_step(client, device, token):
    return client.post(
        f"{SECOND}?next={INDEX}",
        {"otp_device": device.persistent_id, "otp_token": token},
    )


def test_the_password_page_asks_for_the_password_only(client, db):
    body = client.get(LOGIN).content.decode()
    assert 'name="password"' in body
    assert 'name="otp_token"' not in body


def test_the_password_leads_to_a_page_that_lists_the_devices(client, devices):
    # when
    response = password_step(client)
    # then: nobody is signed in yet, the second page lists every device
    assert response.status_code == 302
    assert response.url.startswith(SECOND)
    assert client.get(INDEX).status_code == 302
    body = client.get(response.url).content.decode()
    assert 'name="otp_device"' in body
    assert ">Authenticator app (Phone)</option>" in body
    assert ">Backup codes</option>" in body
    assert 'name="otp_token"' in body


def test_a_backup_code_on_the_second_page_signs_in(client, devices):
    _app, backup = devices
    password_step(client)
    response = code_step(client, backup, "staff123")
    assert response.status_code == 302
    assert response.url == INDEX
    assert client.get(INDEX).status_code == 200


def test_the_authenticator_app_signs_in(client, devices):
    app, _backup = devices
    password_step(client)
    response = code_step(client, app, f"{totp(app.bin_key):06d}")
    assert response.status_code == 302
    assert client.get(INDEX).status_code == 200


def test_no_page_of_either_step_holds_the_typed_password(client, devices):
    """Django's AuthenticationForm never renders a password; django-otp's
    one-page form did, once the password was right (render_value)."""
    _app, backup = devices
    pages = [
        password_step(client, password="Wrong-" + PASSWORD),  # wrong password
        password_step(client, otp_token="000000"),  # right one, old-style post
    ]
    pages.append(client.get(pages[-1].url))  # the second page
    pages.append(code_step(client, backup, "wrong-code"))  # a wrong code
    for response in pages:
        assert PASSWORD not in response.content.decode()
    assert pages[0].status_code == 200
    assert pages[2].status_code == 200
    assert pages[3].status_code == 200
    assert "Invalid token" in pages[3].content.decode()


def test_the_second_page_needs_the_password_page_first(client, devices):
    _app, backup = devices
    response = code_step(client, backup, "staff123")
    assert response.status_code == 302
    assert response.url == LOGIN
    assert client.get(INDEX).status_code == 302


def test_a_pending_password_expires(client, devices):
    _app, backup = devices
    password_step(client)
    with time_machine.travel(NOON + datetime.timedelta(minutes=6), tick=False):
        response = code_step(client, backup, "staff123")
    assert response.url == LOGIN
    assert client.get(INDEX).status_code == 302


def test_another_users_device_is_refused(client, devices, superuser):
    other = StaticDevice.objects.create(user=superuser, name="", confirmed=True)
    StaticToken.objects.create(device=other, token="root1234")
    password_step(client)
    response = code_step(client, other, "root1234")
    assert response.status_code == 200
    assert client.get(INDEX).status_code == 302


def test_a_staff_member_without_a_device_is_told_what_to_do(client, staff):
    response = client.get(password_step(client).url)
    assert "Your account has no second factor yet." in response.content.decode()


def test_wrong_codes_count_towards_the_lockout(client, devices):
    """Five wrong codes lock the account from that address, like five wrong
    passwords; the lockout then holds on both pages."""
    _app, backup = devices
    password_step(client)
    for minute in range(5):
        with time_machine.travel(NOON + datetime.timedelta(minutes=minute), tick=False):
            response = code_step(client, backup, f"wrong{minute}")
    assert response.status_code == 429
    # the right code, and the right password, are refused until it ends
    assert code_step(client, backup, "staff123").status_code == 429
    assert password_step(Client()).status_code == 429
    assert client.get(INDEX).status_code == 302
    # another address is not locked
    assert password_step(Client(REMOTE_ADDR="198.51.100.20")).status_code == 302


def test_a_locked_account_cannot_reach_the_second_page(client, devices):
    _app, backup = devices
    password_step(client)  # pending, then locked by wrong passwords elsewhere
    for _ in range(5):
        password_step(Client(), password="wrong")
    response = code_step(client, backup, "staff123")
    assert response.status_code == 429
    assert "Sign-in paused" in response.content.decode()
    assert client.get(INDEX).status_code == 302

"""Sign-in lockouts (issue 18): one account from one address, and a much
higher ceiling per address; the page says when to try again."""

import datetime

import pytest
import time_machine
from django_otp.plugins.otp_static.models import StaticDevice

from django.test import Client
from django.urls import reverse

from tests.clinic.factories import PatientFactory, UserFactory

REAL_OTP = True
PASSWORD = "correct horse battery"
NOON = datetime.datetime(2026, 3, 10, 12, 0, tzinfo=datetime.UTC)
HOME_NETWORK = "203.0.113.7"  # a family's, or a clinic's waiting room

LOGIN = reverse("account_login")
ADMIN_LOGIN = reverse("admin:login")


@pytest.fixture(autouse=True)
def _at_noon():
    with time_machine.travel(NOON, tick=False):
        yield


@pytest.fixture
def patients(organization):
    """Two patients with portal accounts, as in one family."""
    users = []
    for username in ("camille", "dominique"):
        user = UserFactory(username=username)
        user.set_password(PASSWORD)
        user.save()
        PatientFactory(organization=organization, user=user)
        users.append(user)
    return users


@pytest.fixture
def staff(staff_member):
    user = staff_member.user
    user.set_password(PASSWORD)
    user.save()
    StaticDevice.objects.create(user=user, name="b", confirmed=True)
    return user


def at(address: str) -> Client:
    return Client(REMOTE_ADDR=address)


def portal_sign_in(address: str, username: str, password: str = PASSWORD, **extra):
    return at(address).post(LOGIN, {"login": username, "password": password}, **extra)


def admin_sign_in(address: str, username: str, password: str = PASSWORD):
    return at(address).post(ADMIN_LOGIN, {"username": username, "password": password})


def test_a_locked_patient_locks_nobody_else_behind_the_address(patients, staff):
    """Five typos lock that account from that address; the next patient, the
    receptionist in admin and the same patient elsewhere still sign in."""
    # given
    for _ in range(5):
        portal_sign_in(HOME_NETWORK, "camille", "wrong")
    # when
    locked = portal_sign_in(HOME_NETWORK, "camille")
    sibling = portal_sign_in(HOME_NETWORK, "dominique")
    receptionist = admin_sign_in(HOME_NETWORK, staff.username)
    elsewhere = portal_sign_in("198.51.100.20", "camille")
    # then
    assert locked.status_code == 429
    assert sibling.status_code == 302
    assert receptionist.status_code == 302
    assert receptionist.url.startswith(reverse("admin:login_second_factor"))
    assert elsewhere.status_code == 302


def test_four_typos_lock_nothing(patients):
    for _ in range(4):
        portal_sign_in(HOME_NETWORK, "camille", "wrong")
    assert portal_sign_in(HOME_NETWORK, "camille").status_code == 302


def test_the_address_ceiling_locks_the_address(settings, patients, staff):
    """Password spraying (a guess or two on many accounts) stops at the
    ceiling for everyone behind that address, and only there."""
    # given: one failure short of the ceiling, never twice on one account
    settings.SIGN_IN_FAILURES_PER_ADDRESS = 8
    for n in range(7):
        portal_sign_in(HOME_NETWORK, f"someone{n}", "guess")
    assert portal_sign_in(HOME_NETWORK, "dominique").status_code == 302
    # when
    portal_sign_in(HOME_NETWORK, "someone7", "guess")
    # then
    assert portal_sign_in(HOME_NETWORK, "camille").status_code == 429
    assert admin_sign_in(HOME_NETWORK, staff.username).status_code == 429
    assert portal_sign_in("198.51.100.20", "camille").status_code == 302


def test_the_lockout_page_says_when_to_try_again(patients):
    # given: the fifth typo at 12:04
    for minute in range(5):
        with time_machine.travel(NOON + datetime.timedelta(minutes=minute), tick=False):
            portal_sign_in(HOME_NETWORK, "camille", "wrong")
    # when: the patient tries again at 12:10, with the right password
    with time_machine.travel(NOON + datetime.timedelta(minutes=10), tick=False):
        english = portal_sign_in(HOME_NETWORK, "camille")
        french = portal_sign_in(HOME_NETWORK, "camille", HTTP_ACCEPT_LANGUAGE="fr")
    # then: locked until 12:19, 15 minutes after the fifth typo, not moved
    # by the attempts made while locked
    assert english.status_code == 429
    assert english["Retry-After"] == str(9 * 60)
    text = english.content.decode()
    assert "signing in is paused for 9 minutes" in text
    assert "You can try again from 12:19 UTC." in text
    french_text = french.content.decode()
    assert "la connexion est suspendue pendant 9 minutes" in french_text
    assert "Vous pourrez réessayer à partir de 12:19 UTC." in french_text
    with time_machine.travel(NOON + datetime.timedelta(minutes=19, seconds=1)):
        assert portal_sign_in(HOME_NETWORK, "camille").status_code == 302


def test_the_address_lockout_page_says_when_to_try_again(settings, patients):
    settings.SIGN_IN_FAILURES_PER_ADDRESS = 3
    for minute in range(3):
        with time_machine.travel(NOON + datetime.timedelta(minutes=minute), tick=False):
            portal_sign_in(HOME_NETWORK, f"someone{minute}", "guess")
    with time_machine.travel(NOON + datetime.timedelta(minutes=5), tick=False):
        response = portal_sign_in(HOME_NETWORK, "camille")
    # The oldest failure (12:00) leaving the window brings the count below
    # the ceiling: 12:15.
    assert response.status_code == 429
    assert "You can try again from 12:15 UTC." in response.content.decode()


def test_the_admin_lockout_page_is_admins_and_says_when(staff):
    for _ in range(5):
        admin_sign_in(HOME_NETWORK, staff.username, "wrong")
    response = admin_sign_in(HOME_NETWORK, staff.username)
    assert response.status_code == 429
    text = response.content.decode()
    assert "Sign-in paused" in text
    assert "You can try again from 12:15 UTC." in text
    assert 'id="site-name"' in text  # admin's own header

"""Sign-in with a password and a second factor (issue 5)."""

import datetime
import re

import time_machine
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from consent.models import PatientPreferences
from messaging.backends import locmem
from portal.auth.devices import EmailCodeDevice, SmsCodeDevice

# Fixtures: the clock at noon and deliveries at once (autouse), a patient
# with a password.
from tests.portal.auth.support import (
    HOME,
    LOGIN,
    NOON,
    PASSWORD,
    VERIFY,
    enter_code,
    five_wrong_passwords_lock_the_account,
    sign_in,
    wrong_codes_from_one_address_are_limited,
)

REAL_OTP = True  # tests/conftest.py: force_login does not pass the second factor here
DEVICES = reverse("portal:auth_devices")


def mailed_code() -> str:
    return re.search(r"\b(\d{6})\b", mail.outbox[-1].body).group(1)


def send_code(client, device):
    return client.post(
        VERIFY, {"device": device.persistent_id, "action": "send"}, follow=True
    )


def test_password_then_email_code_from_the_messaging_pipeline(client, patient):
    device = EmailCodeDevice.objects.create(user=patient.user, name="Email")
    response = sign_in(client)
    assert response.status_code == 302
    # Signed in with the password only: the portal asks for the second factor.
    response = client.get(HOME)
    assert response.status_code == 302
    assert response.url.startswith(VERIFY)

    response = send_code(client, device)
    assert "We sent you a code." in response.content.decode()
    assert mail.outbox[-1].to == [patient.email]
    code = mailed_code()
    assert "expire dans 10 minutes" in mail.outbox[-1].body  # the patient reads French

    response = enter_code(client, device, code, next=HOME)
    assert response.status_code == 302
    assert response.url == HOME
    assert client.get(HOME).status_code == 200


def test_code_by_sms_goes_to_the_verified_phone(client, patient):
    patient.email = ""
    patient.phone_is_mobile = True
    patient.save()
    device = SmsCodeDevice.objects.create(user=patient.user, name="SMS")
    sign_in(client)
    send_code(client, device)
    sms = locmem.outbox[-1]
    assert sms["channel"] == "sms"
    assert sms["to"] == str(patient.phone)
    code = re.search(r"\b(\d{6})\b", sms["body"]).group(1)
    assert enter_code(client, device, code).status_code == 302
    assert client.get(HOME).status_code == 200


def test_a_code_works_once(client, patient):
    device = EmailCodeDevice.objects.create(user=patient.user, name="Email")
    sign_in(client)
    send_code(client, device)
    code = mailed_code()
    assert enter_code(client, device, code).status_code == 302

    other = Client()
    sign_in(other)
    response = enter_code(other, device, code)
    assert response.status_code == 200
    assert "That code is not right or has expired." in response.content.decode()
    assert other.get(HOME).status_code == 302


def test_an_expired_code_is_refused(client, patient):
    device = EmailCodeDevice.objects.create(user=patient.user, name="Email")
    sign_in(client)
    send_code(client, device)
    code = mailed_code()
    with time_machine.travel(NOON + datetime.timedelta(minutes=11), tick=False):
        response = enter_code(client, device, code)
        assert "That code is not right or has expired." in response.content.decode()
        assert client.get(HOME).status_code == 302


def test_wrong_codes_are_throttled_with_a_message(client, patient):
    device = EmailCodeDevice.objects.create(user=patient.user, name="Email")
    sign_in(client)
    send_code(client, device)
    code = mailed_code()
    wrong = "000000" if code != "000000" else "111111"
    response = enter_code(client, device, wrong)
    assert "That code is not right" in response.content.decode()
    # Straight after a failure, even the right code waits.
    response = enter_code(client, device, code)
    assert "Too many wrong codes. Wait 1 second" in response.content.decode()
    with time_machine.travel(NOON + datetime.timedelta(seconds=2), tick=False):
        assert enter_code(client, device, code).status_code == 302


def test_a_new_code_waits_for_the_cool_down(client, patient):
    device = EmailCodeDevice.objects.create(user=patient.user, name="Email")
    sign_in(client)
    send_code(client, device)
    response = send_code(client, device)
    assert "A code was sent a moment ago." in response.content.decode()
    assert len(mail.outbox) == 1


def test_a_user_without_a_second_factor_is_sent_to_set_one_up(client, patient):
    sign_in(client)
    response = client.get(reverse("portal:inbox"))
    assert response.status_code == 302
    assert response.url.startswith(DEVICES)
    assert client.get(DEVICES).status_code == 200


def test_authenticator_app_setup(client, patient):
    sign_in(client)
    response = client.get(reverse("portal:auth_totp_add"))
    body = response.content.decode()
    assert "<svg" in body
    assert 'autocomplete="one-time-code"' in body
    assert 'inputmode="numeric"' in body
    device = TOTPDevice.objects.get(user=patient.user, confirmed=False)
    token = f"{totp(device.bin_key):06d}"
    response = client.post(reverse("portal:auth_totp_add"), {"token": token})
    assert response.status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    assert client.get(HOME).status_code == 200


def test_backup_codes_are_shown_once_and_each_works_once(client, patient):
    sign_in(client)
    response = client.post(reverse("portal:auth_backup_codes"))
    codes = response.context["codes"]
    assert len(codes) == 10
    device = StaticDevice.objects.get(user=patient.user)
    assert device.confirmed
    assert client.get(reverse("portal:auth_backup_codes")).context["codes"] == []

    other = Client()
    sign_in(other)
    assert enter_code(other, device, codes[0]).status_code == 302
    assert other.get(HOME).status_code == 200
    assert not StaticToken.objects.filter(device=device, token=codes[0]).exists()

    third = Client()
    sign_in(third)
    with time_machine.travel(NOON + datetime.timedelta(minutes=1), tick=False):
        response = enter_code(third, device, codes[0])
    assert "That code is not right" in response.content.decode()


def test_removing_a_device_needs_the_password(client, patient):
    device = StaticDevice.objects.create(user=patient.user, name="b", confirmed=True)
    StaticToken.objects.create(device=device, token="abcd1234")
    sign_in(client)
    enter_code(client, device, "abcd1234")
    url = reverse("portal:auth_device_remove")
    response = client.post(url, {"device": device.persistent_id, "password": "nope"})
    assert "That password is not right." in response.content.decode()
    assert StaticDevice.objects.filter(pk=device.pk).exists()
    response = client.post(url, {"device": device.persistent_id, "password": PASSWORD})
    assert response.status_code == 302
    assert not StaticDevice.objects.filter(pk=device.pk).exists()


def test_devices_cannot_change_before_the_second_factor(client, patient):
    StaticDevice.objects.create(user=patient.user, name="b", confirmed=True)
    sign_in(client)
    for name in ("auth_devices", "auth_totp_add", "auth_backup_codes"):
        response = client.get(reverse(f"portal:{name}"))
        assert response.status_code == 302
        assert response.url == VERIFY
    assert not TOTPDevice.objects.exists()


def test_someone_elses_device_is_404(client, patient, organization):
    from tests.clinic.factories import UserFactory

    stranger = UserFactory(username="stranger")
    device = StaticDevice.objects.create(user=stranger, name="b", confirmed=True)
    mine = StaticDevice.objects.create(user=patient.user, name="b", confirmed=True)
    StaticToken.objects.create(device=mine, token="abcd1234")
    sign_in(client)
    enter_code(client, mine, "abcd1234")
    url = reverse("portal:auth_device_remove")
    assert client.get(url, {"device": device.persistent_id}).status_code == 404


def test_five_wrong_passwords_lock_the_account(client, patient):
    """From that address (tests/portal/test_auth_lockout.py has the rest)."""
    five_wrong_passwords_lock_the_account(client, patient)


def test_wrong_codes_from_one_address_are_limited(client, patient, monkeypatch):
    wrong_codes_from_one_address_are_limited(client, patient, monkeypatch)


def test_an_idle_session_ends(client, patient, settings):
    settings.SESSION_IDLE_TIMEOUT = 900
    device = StaticDevice.objects.create(user=patient.user, name="b", confirmed=True)
    StaticToken.objects.create(device=device, token="abcd1234")
    sign_in(client)
    enter_code(client, device, "abcd1234")
    response = client.get(HOME)
    assert response.status_code == 200
    assert b"session-timeout.js" in response.content
    with time_machine.travel(NOON + datetime.timedelta(minutes=14), tick=False):
        assert client.get(HOME).status_code == 200
        status = client.get(reverse("portal:auth_session_status")).json()
        assert status["remaining"] == 900
    # The status poll is not activity: 14 + 15 minutes later the session ends.
    with time_machine.travel(NOON + datetime.timedelta(minutes=29, seconds=1)):
        response = client.get(HOME)
    assert response.status_code == 302
    assert response.url.startswith(LOGIN)
    response = client.get(response.url)
    assert "signed out after 15 minutes without activity" in response.content.decode()


def test_keep_alive_renews_the_session(client, patient):
    device = StaticDevice.objects.create(user=patient.user, name="b", confirmed=True)
    StaticToken.objects.create(device=device, token="abcd1234")
    sign_in(client)
    enter_code(client, device, "abcd1234")
    with time_machine.travel(NOON + datetime.timedelta(minutes=14), tick=False):
        assert client.post(reverse("portal:auth_keep_alive")).status_code == 200
    with time_machine.travel(NOON + datetime.timedelta(minutes=28), tick=False):
        assert client.get(HOME).status_code == 200


def test_sign_up_is_closed(client, db):
    response = client.get(reverse("account_signup"))
    assert "You cannot create an account here." in response.content.decode()


def test_the_device_model_throttles_and_expires(patient):
    device = EmailCodeDevice.objects.create(user=patient.user, name="Email")
    device.generate_challenge()
    code = device.token
    assert device.valid_until == timezone.now() + datetime.timedelta(minutes=10)
    assert not device.verify_token("999999" if code != "999999" else "888888")
    assert not device.verify_token(code)  # throttled straight after a failure
    with time_machine.travel(NOON + datetime.timedelta(seconds=2), tick=False):
        assert device.verify_token(code)
        assert not device.verify_token(code)  # single use


def test_sign_in_by_email(client, patient):
    response = sign_in(client, username=patient.user.email)
    assert response.status_code == 302
    assert client.get(HOME).url.startswith(DEVICES)


def test_demo_staff_get_an_email_device_and_documented_backup_codes(staff_member):
    from django_otp.plugins.otp_email.models import EmailDevice

    from demo.seed import SeedReport
    from portal import demo

    demo.seed(report=SeedReport())
    demo.seed(report=SeedReport())  # idempotent
    user = staff_member.user  # lilas.admin
    assert EmailDevice.objects.filter(user=user, confirmed=True).count() == 1
    static = StaticDevice.objects.get(user=user)
    assert static.verify_token("admin-1")
    assert not static.verify_token("admin-1")
    demo.seed(report=SeedReport())  # restores used codes
    assert static.token_set.filter(token="admin-1").exists()


def _bounced(patient):
    """The email address bounced: consent marks it invalid."""
    PatientPreferences.objects.filter(patient=patient).update(email_invalid_at=NOON)


def test_no_code_is_announced_when_none_could_be_sent(client, patient, organization):
    """After a bounce the delivery is suppressed (invalid address): the page
    says so and where to turn, never "We sent you a code"."""
    # given
    organization.contact_email = "accueil@lilas.example"
    organization.save()
    device = EmailCodeDevice.objects.create(user=patient.user, name="Email")
    _bounced(patient)
    sign_in(client)
    # when
    response = send_code(client, device)
    # then
    body = response.content.decode()
    assert "We sent you a code." not in body
    assert "We could not send you a code by email" in body
    assert "Contact Clinique des Lilas (accueil@lilas.example)" in body
    assert mail.outbox == []
    assert patient.messages.get().deliveries.get().status == "suppressed"
    device.refresh_from_db()
    assert device.token is None


def test_no_code_by_email_offers_the_other_way(client, patient):
    patient.phone_is_mobile = True
    patient.save()
    device = EmailCodeDevice.objects.create(user=patient.user, name="Email")
    SmsCodeDevice.objects.create(user=patient.user, name="SMS")
    _bounced(patient)
    sign_in(client)
    body = send_code(client, device).content.decode()
    assert "We sent you a code." not in body
    assert "Choose another way to confirm: Code by SMS." in body


def test_setting_up_codes_by_email_after_a_bounce_asks_for_no_code(client, patient):
    _bounced(patient)
    sign_in(client)
    response = client.post(
        reverse("portal:auth_email_add"), {"action": "send"}, follow=True
    )
    body = response.content.decode()
    assert "We could not send you a code by email" in body
    assert 'name="token"' not in body

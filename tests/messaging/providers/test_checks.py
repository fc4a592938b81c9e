"""Misconfigured channels are reported by `manage.py check` and /healthz."""

import pytest

from django.test import override_settings
from django.urls import reverse

from messaging.checks import check_backends, check_lease, check_task_time
from tests.messaging.providers.fakes import SINCH_SMS, TWILIO_SMS

INAPP = {"BACKEND": "messaging.backends.inapp.Backend"}
LOCMEM = {"BACKEND": "messaging.backends.locmem.Backend"}


def ids(messages):
    return [m.id for m in messages]


def test_an_unimportable_backend_path_is_an_error_naming_setting_and_path():
    with override_settings(
        MESSAGING_BACKENDS={
            "inapp": INAPP,
            "sms": {"BACKEND": "messaging.backends.sms.nope.SmsBackend"},
        }
    ):
        (error,) = check_backends()
    assert error.id == "messaging.E001"
    assert "MESSAGING_BACKENDS['sms']['BACKEND']" in error.msg
    assert "'messaging.backends.sms.nope.SmsBackend'" in error.msg


def test_an_unimportable_failover_member_is_an_error_too():
    failover = {
        "BACKEND": "messaging.backends.sms.failover.SmsBackend",
        "OPTIONS": {
            "primary": TWILIO_SMS.config("http://x"),
            "secondary": {"BACKEND": "nope.Backend"},
        },
    }
    with override_settings(MESSAGING_BACKENDS={"inapp": INAPP, "sms": failover}):
        (error,) = check_backends()
    assert error.id == "messaging.E001"
    assert "['OPTIONS']['secondary']['BACKEND']" in error.msg


def test_a_provider_without_credentials_is_a_warning_naming_what_is_missing():
    config = TWILIO_SMS.config("http://x", auth_token="")
    with override_settings(MESSAGING_BACKENDS={"inapp": INAPP, "sms": config}):
        (warning,) = check_backends()
    assert warning.id == "messaging.W002"
    assert "missing TWILIO_AUTH_TOKEN" in warning.msg


@pytest.mark.parametrize(
    ("debug", "expected"), [(False, ["messaging.W001"]), (True, [])]
)
def test_development_backends_with_debug_off_are_a_warning(debug, expected):
    with override_settings(
        DEBUG=debug, MESSAGING_BACKENDS={"inapp": INAPP, "sms": LOCMEM}
    ):
        assert ids(check_backends()) == expected


def test_configured_providers_pass():
    with override_settings(
        MESSAGING_BACKENDS={"inapp": INAPP, "sms": SINCH_SMS.config("http://x")}
    ):
        assert check_backends() == []


@pytest.mark.django_db
def test_healthz_is_degraded_naming_the_sms_channel_when_twilio_credentials_are_missing(
    client,
):
    """Sends on that channel wait with their reason; pages, the API and the
    other channels go on, so the process stays in rotation (200, not 503)."""
    config = TWILIO_SMS.config("http://x", auth_token="")
    with override_settings(MESSAGING_BACKENDS={"inapp": INAPP, "sms": config}):
        response = client.get(reverse("healthz"))
        ready = client.get(reverse("healthz_ready"))
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert ready.status_code == 200
    assert ready.json()["status"] == "ok"
    channels = response.json()["checks"]["channels"]
    assert channels["status"] == "degraded"
    assert channels["unavailable"] == ["sms"]
    assert channels["channels"]["sms"] == {
        "backend": "messaging.backends.sms.twilio.SmsBackend",
        "available": False,
        "why": "missing TWILIO_AUTH_TOKEN",
    }


@pytest.mark.django_db
def test_healthz_reports_each_channels_backend_when_all_can_send(client):
    response = client.get(reverse("healthz"))
    channels = response.json()["checks"]["channels"]
    assert response.status_code == 200
    assert channels["channels"]["sms"] == {
        "backend": "messaging.backends.locmem.Backend",
        "available": True,
    }


@pytest.mark.parametrize(("lease", "errors"), [(60, ["messaging.E004"]), (120, [])])
def test_a_lease_shorter_than_the_task_timeout_is_an_error(lease, errors):
    """A claim must outlive the task holding it (issue 17: reliability tests
    once ran with a 5 s lease and a 10 s timeout)."""
    with override_settings(MESSAGING_LEASE_SECONDS=lease, Q_CLUSTER={"timeout": 120}):
        messages = check_lease()
    assert ids(messages) == errors
    if errors:
        assert "MESSAGING_LEASE_SECONDS (60)" in messages[0].msg
        assert "Q_CLUSTER['timeout'] (120)" in messages[0].msg


@pytest.mark.parametrize(("timeout", "errors"), [(16, ["messaging.E005"]), (18, [])])
def test_a_task_timeout_with_no_time_for_one_provider_call_is_an_error(timeout, errors):
    """Twilio's 5 s to connect and 10 s to answer, plus 2 s to record."""
    sms = TWILIO_SMS.config("http://x", connect_timeout=5, read_timeout=10)
    with override_settings(
        MESSAGING_BACKENDS={"inapp": INAPP, "sms": sms}, Q_CLUSTER={"timeout": timeout}
    ):
        assert ids(check_task_time()) == errors

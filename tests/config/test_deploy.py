"""Production settings pass Django's deployment checklist, and the security
headers the issue asks for are on every response.

`check --deploy` runs in a child process because settings are read once per
process: the suite itself runs on the test settings.
"""

import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from django.urls import reverse

ROOT = Path(__file__).resolve().parents[2]

# What an operator sets in production (README, configuration table).
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "liaison.example.org",
    "CSRF_TRUSTED_ORIGINS": "https://liaison.example.org",
    "EMAIL_CHANNEL_BACKEND": "messaging.backends.email.Backend",
    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
    "SMS_BACKEND": "messaging.backends.sms.twilio.SmsBackend",
    "VOICE_BACKEND": "messaging.backends.voice.twilio.VoiceBackend",
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": secrets.token_hex(16),
    # Each clinic's number is a sender identity (admin); secrets it stores
    # are encrypted with this key.
    "CREDENTIALS_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
}


def _check_deploy(**overrides: str) -> subprocess.CompletedProcess:
    env = {
        key: value
        for key, value in os.environ.items()
        # The child reads production settings, not the suite's.
        if key not in {"DJANGO_SETTINGS_MODULE", "SECURE_SSL_REDIRECT"}
    }
    env.update(PRODUCTION, **overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_prints_no_warning_with_production_settings():
    result = _check_deploy()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNING" not in result.stderr


def test_check_deploy_fails_when_a_channel_would_not_reach_patients():
    """The check can fail: the outbox in production is a warning that stops it."""
    result = _check_deploy(SMS_BACKEND="outbox")
    assert result.returncode != 0
    assert "messaging.W001" in result.stderr


@pytest.mark.django_db
def test_csp_forbids_inline_scripts_and_other_origins(client):
    response = client.get(reverse("account_login"))
    policy = dict(
        part.strip().split(" ", 1)
        for part in response["Content-Security-Policy"].split(";")
        if part.strip()
    )
    assert policy["script-src"] == "'self'"
    assert "unsafe-inline" not in policy.get("style-src", "")
    assert policy["default-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'"


@pytest.mark.django_db
def test_portal_pages_carry_no_inline_script(client):
    """Inline scripts would be blocked by the policy above: none is served."""
    for name in ("account_login", "verify"):
        html = client.get(reverse(name)).content.decode()
        for tag in html.split("<script")[1:]:
            assert "src=" in tag.split(">", 1)[0], tag[:80]

"""Security properties of sign-in (issue 5): CSRF on every form, cookie flags."""

import json
import re
from pathlib import Path

import pytest

from django.test import Client
from django.urls import reverse

from tests.support.subprocess_python import run_python

REAL_OTP = True
ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = sorted(
    [
        *(ROOT / "templates/portal/auth").glob("*.html"),
        *(ROOT / "templates/account").glob("*.html"),
    ]
)


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_every_post_form_has_a_csrf_token(template):
    text = template.read_text()
    forms = re.findall(r"<form[^>]*>.*?</form>", text, flags=re.S)
    for form in forms:
        if 'method="post"' in form:
            assert "{% csrf_token %}" in form, template


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_no_inline_script_or_style(template):
    text = template.read_text()
    assert "<script" not in text
    assert "style=" not in text
    assert "<style" not in text


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name",
    [
        "account_login",
        "account_logout",
        "portal:auth_verify",
        "portal:auth_keep_alive",
        "portal:auth_totp_add",
        "portal:auth_email_add",
        "portal:auth_sms_add",
        "portal:auth_backup_codes",
        "portal:auth_device_remove",
    ],
)
def test_post_without_a_csrf_token_is_refused(name, patient_user):
    client = Client(enforce_csrf_checks=True)
    if name not in ("account_login",):
        client.force_login(patient_user[0])
    response = client.post(reverse(name), {"login": "camille", "password": "x"})
    assert response.status_code == 403


def test_production_cookies_are_secure_httponly_samesite():
    result = run_python(
        "import json\n"
        "from django.conf import settings\n"
        "print(json.dumps({k: getattr(settings, k) for k in ("
        "'SESSION_COOKIE_SECURE', 'SESSION_COOKIE_HTTPONLY', 'SESSION_COOKIE_SAMESITE',"
        "'CSRF_COOKIE_SECURE', 'CSRF_COOKIE_HTTPONLY', 'SESSION_IDLE_TIMEOUT',"
        "'AXES_FAILURE_LIMIT', 'AXES_LOCKOUT_PARAMETERS',"
        "'SIGN_IN_FAILURES_PER_ADDRESS')}))\n",
        SECRET_KEY="x" * 50,
        DEBUG="false",
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values == {
        "SESSION_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "CSRF_COOKIE_SECURE": True,
        "CSRF_COOKIE_HTTPONLY": True,
        "SESSION_IDLE_TIMEOUT": 900,
        "AXES_FAILURE_LIMIT": 5,
        "AXES_LOCKOUT_PARAMETERS": [["username", "ip_address"]],
        "SIGN_IN_FAILURES_PER_ADDRESS": 50,
    }

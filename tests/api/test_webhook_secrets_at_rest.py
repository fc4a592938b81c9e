"""Webhook signing secrets at rest: encrypted under CREDENTIALS_KEY (the helper
the sender identities use), rotated with ``manage.py secrets_rotate``, never
shown back after creation; existing secrets are encrypted by migration."""

import io

import pytest
from cryptography.fernet import Fernet

from django.core.checks import run_checks
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import override_settings

from api.models import WebhookSubscription
from clinic.appointments.actions import appointment_confirm
from messaging.credentials import secret_decrypt
from tests.api.webhooks_support import received, subscribe
from tests.clinic.factories import AppointmentFactory, StaffMemberFactory

pytestmark = pytest.mark.django_db


def stored_row(subscription) -> str:
    """Every column of the subscription's row as the database holds it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT * FROM api_webhooksubscription WHERE id = %s", [subscription.pk]
        )
        return " ".join(str(value) for value in cursor.fetchone())


def test_the_secret_is_stored_encrypted_never_in_clear(organization):
    # when
    subscription, secret = subscribe(organization, "https://93.184.216.34/hook")
    # then: the row holds a Fernet token, not the secret
    assert secret not in stored_row(subscription)
    subscription.refresh_from_db()
    assert secret_decrypt(subscription.secret_encrypted) == secret
    assert subscription.secret_hint == "…" + secret[-4:]


def test_signing_still_works_after_the_key_is_rotated(
    organization, httpserver, settings, send_on_commit
):
    # given: a subscription encrypted under the old key, then a new key first
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    subscription, secret = subscribe(organization, httpserver.url_for("/hook"))
    new_key = Fernet.generate_key().decode()
    settings.CREDENTIALS_KEY = [new_key, *settings.CREDENTIALS_KEY]
    out = io.StringIO()
    # when: re-encrypted, and the old key dropped
    call_command("secrets_rotate", stdout=out)
    settings.CREDENTIALS_KEY = [new_key]
    with send_on_commit():
        appointment_confirm(
            appointment=AppointmentFactory(patient__organization=organization)
        )
    # then: the receiver still checks the signature with the secret it was given
    assert "1 stored secret(s)" in out.getvalue()
    assert received(httpserver, secret)
    subscription.refresh_from_db()
    assert secret_decrypt(subscription.secret_encrypted) == secret


@override_settings(DEBUG=False, CREDENTIALS_KEY=[])
def test_no_key_in_production_is_an_error_that_says_how_to_make_one():
    errors = [m for m in run_checks() if m.id == "messaging.E006"]
    assert len(errors) == 1
    assert "CREDENTIALS_KEY is not set" in errors[0].msg
    assert "Fernet.generate_key" in errors[0].hint


@override_settings(DEBUG=True, CREDENTIALS_KEY=[])
def test_no_key_in_development_is_no_error():
    assert not [m for m in run_checks() if m.id == "messaging.E006"]


@pytest.mark.django_db(transaction=True)
def test_the_migration_encrypts_existing_secrets():
    # given: a subscription saved in clear before the change
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    before = [node for node in latest if node[0] != "api"]
    before.append(("api", "0003_apikey_purposes"))
    executor.migrate(before)
    old = MigrationExecutor(connection).loader.project_state(before).apps
    org = old.get_model("clinic", "Organization").objects.create(
        name="Lilas", slug="lilas", time_zone="Europe/Paris", default_language="fr"
    )
    clear = "whsec_" + "ab12" * 12
    old.get_model("api", "WebhookSubscription").objects.create(
        organization=org, url="https://93.184.216.34/hook", events=[], secret=clear
    )
    # when
    MigrationExecutor(connection).migrate(latest)
    # then
    subscription = WebhookSubscription.objects.get()
    assert clear not in stored_row(subscription)
    assert subscription.secret == clear
    assert subscription.secret_hint == "…ab12"


def test_admin_says_why_a_subscription_cannot_be_made_without_a_key(
    client, organization, settings
):
    # given: a server with no key
    settings.CREDENTIALS_KEY = []
    staff = StaffMemberFactory(organization=organization, role="admin")
    client.force_login(staff.user)
    # when
    response = client.post(
        "/admin/api/webhooksubscription/add/",
        {"url": "https://93.184.216.34/hook", "events": ["consent.changed"]},
    )
    # then: the form says so, nothing is stored
    assert response.status_code == 200
    assert "the server has no CREDENTIALS_KEY" in response.text
    assert not WebhookSubscription.objects.exists()


def test_the_api_answers_a_problem_without_a_key(make_client, settings):
    # given
    settings.CREDENTIALS_KEY = []
    api, _key = make_client()
    # when
    response = api.post_json(
        "/api/v1/webhooks/",
        {"url": "https://93.184.216.34/hook", "events": ["consent.changed"]},
    )
    # then
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert "CREDENTIALS_KEY" in response.json()["detail"]
    assert not WebhookSubscription.objects.exists()

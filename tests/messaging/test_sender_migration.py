"""Migrations 0015 (messaging) and 0010 (clinic): Organization.sms_number
becomes sender identities, and comes back when migrated backwards."""

import pytest

from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.messaging.providers.fakes import SINCH_SMS, TWILIO_SMS

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE = [
    ("clinic", "0009_appointment_sync_index"),
    ("messaging", "0014_sender_identity_inbound_receipt"),
]
FAILOVER = {
    "sms": {
        "BACKEND": "messaging.backends.sms.failover.SmsBackend",
        "OPTIONS": {
            "primary": TWILIO_SMS.config("http://x"),
            "secondary": SINCH_SMS.config("http://x"),
        },
    }
}


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def organization(apps, slug, sms_number=""):
    return apps.get_model("clinic", "Organization").objects.create(
        name=slug,
        slug=slug,
        time_zone="Europe/Paris",
        default_language="fr",
        country="FR",
        sms_number=sms_number,
    )


def identities(apps):
    return set(
        apps.get_model("messaging", "SenderIdentity").objects.values_list(
            "organization__slug", "provider", "phone_number"
        )
    )


def test_each_sms_number_becomes_an_identity_per_configured_provider(settings):
    # given: two organizations before the change, one with a number
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    old = migrate(BEFORE)
    organization(old, "lilas", "+33757000001")
    organization(old, "riverside")
    settings.MESSAGING_BACKENDS = FAILOVER
    # when
    new = migrate(latest)
    # then: the global number is not given to anybody (several organizations)
    assert identities(new) == {
        ("lilas", "twilio", "+33757000001"),
        ("lilas", "sinch", "+33757000001"),
    }
    # when: migrated back
    old = migrate(BEFORE)
    # then
    numbers = old.get_model("clinic", "Organization").objects.values_list(
        "slug", "sms_number"
    )
    assert dict(numbers) == {"lilas": "+33757000001", "riverside": ""}
    migrate(latest)


def test_a_single_organization_keeps_the_global_sender_it_used(settings, monkeypatch):
    # given: one organization, no number of its own, TWILIO_FROM in use
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    old = migrate(BEFORE)
    organization(old, "solo")
    monkeypatch.setenv("TWILIO_FROM", "+33757000009")
    monkeypatch.delenv("SINCH_FROM", raising=False)
    settings.MESSAGING_BACKENDS = {"sms": TWILIO_SMS.config("http://x")}
    # when
    new = migrate(latest)
    # then
    assert identities(new) == {("solo", "twilio", "+33757000009")}

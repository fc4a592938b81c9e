"""The sign-in tests' fixtures: the clock at noon and deliveries at once
for every test here, and a patient with a password."""

import pytest
import time_machine

from consent.models import PatientPreferences
from messaging.backends import locmem
from tests.consent.factories import TopicFactory
from tests.portal.auth.support import NOON, PASSWORD


@pytest.fixture(autouse=True)
def at_noon():
    with time_machine.travel(NOON, tick=False):
        yield


@pytest.fixture(autouse=True)
def deliver_on_commit(monkeypatch):
    """The test's transaction never commits: deliver at once, as a worker would."""
    from django.db import transaction

    monkeypatch.setattr(
        transaction, "on_commit", lambda fn, using=None, robust=False: fn()
    )
    locmem.outbox.clear()


@pytest.fixture
def patient(patient_user, organization):
    user, patient = patient_user
    user.set_password(PASSWORD)
    user.save()
    TopicFactory(
        organization=organization,
        slug="security-codes",
        purpose="security",
        channels=["email", "sms"],
    )
    PatientPreferences.objects.create(
        patient=patient,
        email_verified_at=NOON,
        phone_verified_at=NOON,
    )
    return patient

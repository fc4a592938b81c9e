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
def deliver_on_commit(on_commit_at_once):
    """The test's transaction never commits: deliver at once, as a worker would."""
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

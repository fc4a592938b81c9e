"""Fixtures and helpers of the contact-point tests."""

import re
from pathlib import Path

import pytest
import time_machine

from django.core import mail
from django.urls import reverse

from consent.models import PatientPreferences
from messaging.backends import locmem
from portal.contact_points.models import ContactPointChange
from tests.consent.factories import TopicFactory
from tests.support.clock import WEEKDAY_NOON_PARIS

pytestmark = pytest.mark.django_db

OLD_EMAIL = "camille@example.org"
OLD_MOBILE = "+33612345678"
NEW_EMAIL = "camille.new@example.net"
NEW_MOBILE = "+33698765432"
DETAILS = reverse("portal:contact_details")
Status = ContactPointChange.Status
TEMPLATES = Path(__file__).resolve().parents[3] / "templates/portal/preferences"


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(WEEKDAY_NOON_PARIS, tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def _deliver_on_commit(on_commit_at_once):
    """The test's transaction never commits: deliver at once, as a worker would."""
    locmem.outbox.clear()
    yield
    locmem.outbox.clear()


@pytest.fixture
def security(organization):
    return TopicFactory(
        organization=organization,
        slug="security-codes",
        purpose="security",
        channels=["email", "sms"],
    )


@pytest.fixture
def patient(patient_user, security):
    """Camille, with a verified email and mobile number."""
    _user, patient = patient_user
    patient.email, patient.phone, patient.phone_is_mobile = OLD_EMAIL, OLD_MOBILE, True
    patient.save()
    PatientPreferences.objects.create(
        patient=patient,
        email_verified_at=WEEKDAY_NOON_PARIS,
        phone_verified_at=WEEKDAY_NOON_PARIS,
    )
    return patient


@pytest.fixture
def client_(patient_client, patient):
    return patient_client


def confirm_url(change) -> str:
    return reverse("portal:contact_confirm", args=[change.public_id])


def ask(client, kind="email", value=NEW_EMAIL):
    return client.post(DETAILS, {"form": kind, kind: value})


def the_code(text: str) -> str:
    return re.search(r"\b(\d{6})\b", text).group(1)


def emailed_code(to=NEW_EMAIL) -> str:
    [sent] = [m for m in mail.outbox if m.to == [to]]
    return the_code(sent.body)


def texted_code(to=NEW_MOBILE) -> str:
    [sent] = [s for s in locmem.outbox if s["to"] == to]
    return the_code(sent["body"])


def enter(client, change, code):
    return client.post(confirm_url(change), {"action": "confirm", "token": code})


def pending_change(patient) -> ContactPointChange:
    return ContactPointChange.objects.get(patient=patient, status=Status.PENDING)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"

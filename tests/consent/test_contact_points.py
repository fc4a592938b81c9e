"""A verified flag never carries over to an address nobody proved."""

import datetime

import pytest

from django.utils import timezone

from clinic.services import patient_update
from consent.contact_points import contact_point_is_verified, contact_point_verified
from consent.models import PatientPreferences
from tests.clinic.factories import PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def verified_patient(organization):
    patient = PatientFactory(
        organization=organization, email="a@example.org", phone="+33612345678"
    )
    now = timezone.now() - datetime.timedelta(days=1)
    contact_point_verified(patient=patient, kind="email", at=now)
    contact_point_verified(patient=patient, kind="phone", at=now)
    return patient


def _verified(patient, kind) -> bool:
    preferences = PatientPreferences.objects.get(patient=patient)
    return contact_point_is_verified(preferences=preferences, kind=kind)


def test_an_email_changed_outside_the_proof_is_no_longer_verified(verified_patient):
    patient_update(patient=verified_patient, email="b@example.org")
    assert not _verified(verified_patient, "email")
    assert _verified(verified_patient, "phone")


def test_a_phone_changed_outside_the_proof_is_no_longer_verified(verified_patient):
    patient_update(patient=verified_patient, phone="+33698765432")
    assert not _verified(verified_patient, "phone")
    assert _verified(verified_patient, "email")


def test_saving_other_fields_keeps_the_verification(verified_patient):
    patient_update(patient=verified_patient, given_name="Renamed")
    assert _verified(verified_patient, "email")
    assert _verified(verified_patient, "phone")


def test_proving_an_address_clears_a_bounce(verified_patient):
    PatientPreferences.objects.filter(patient=verified_patient).update(
        email_invalid_at=timezone.now()
    )
    assert not _verified(verified_patient, "email")
    contact_point_verified(patient=verified_patient, kind="email", at=timezone.now())
    assert _verified(verified_patient, "email")

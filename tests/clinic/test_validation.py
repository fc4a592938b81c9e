"""Bad clinic data is refused with a clear message, in code, in the database and in admin."""

import datetime

import pytest

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from clinic import services
from clinic.models import Appointment, Patient
from tests.clinic.factories import AppointmentFactory, PatientFactory, SiteFactory

pytestmark = pytest.mark.django_db


def patient_fields(**overrides):
    fields = {
        "identifier": "P-1",
        "given_name": "Jeanne",
        "family_name": "Martin",
        "birth_date": datetime.date(1985, 3, 2),
        "preferred_language": "fr",
        "time_zone": "Europe/Paris",
        "email": "jeanne@example.org",
        "phone": "+33612345678",
    }
    return fields | overrides


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("phone", "0612345678", "phone number entered is not valid"),
        ("phone", "+3361234", "phone number entered is not valid"),
        ("email", "jeanne@", "valid email address"),
        ("time_zone", "Paris", "not a known time zone"),
        ("preferred_language", "de", "not a valid choice"),
        ("birth_date", datetime.date(2999, 1, 1), "cannot be in the future"),
    ],
)
def test_patient_create_refuses_bad_input(organization, field, value, message):
    # when
    with pytest.raises(ValidationError) as error:
        services.patient_create(
            organization=organization, **patient_fields(**{field: value})
        )
    # then
    assert field in error.value.message_dict
    assert message in " ".join(error.value.message_dict[field])
    assert not Patient.objects.exists()


def test_phone_is_stored_in_e164(organization):
    patient = services.patient_create(
        organization=organization, **patient_fields(phone="+33 6 12 34 56 78")
    )
    patient.refresh_from_db()
    assert str(patient.phone) == "+33612345678"


def test_duplicate_identifier_in_one_organization_is_refused(organization):
    services.patient_create(organization=organization, **patient_fields())
    with pytest.raises(ValidationError) as error:
        services.patient_create(organization=organization, **patient_fields(email=""))
    assert "already has this identifier" in str(error.value)
    assert Patient.objects.count() == 1


def test_same_identifier_in_two_organizations_is_allowed(
    organization, other_organization
):
    services.patient_create(organization=organization, **patient_fields())
    services.patient_create(organization=other_organization, **patient_fields())
    assert Patient.objects.count() == 2


def test_database_refuses_duplicate_identifier_without_clean(organization):
    PatientFactory(organization=organization, identifier="DUP")
    with pytest.raises(IntegrityError), transaction.atomic():
        Patient.objects.create(
            organization=organization,
            identifier="DUP",
            given_name="A",
            family_name="B",
            birth_date=datetime.date(1990, 1, 1),
            preferred_language="fr",
            time_zone="Europe/Paris",
        )


def test_appointment_ending_before_start_is_refused(organization):
    patient = PatientFactory(organization=organization)
    site = SiteFactory(organization=organization)
    starts = timezone.now() + datetime.timedelta(days=1)
    with pytest.raises(ValidationError) as error:
        services.appointment_create(
            patient=patient,
            site=site,
            starts_at=starts,
            ends_at=starts - datetime.timedelta(minutes=5),
        )
    assert "must end after it starts" in str(error.value)
    assert not Appointment.objects.exists()


def test_database_refuses_appointment_ending_before_start(organization):
    appointment = AppointmentFactory(patient__organization=organization)
    with pytest.raises(IntegrityError), transaction.atomic():
        Appointment.objects.filter(pk=appointment.pk).update(
            ends_at=appointment.starts_at
        )


def test_appointment_site_of_another_organization_is_refused(
    organization, other_organization
):
    patient = PatientFactory(organization=organization)
    foreign_site = SiteFactory(organization=other_organization)
    starts = timezone.now() + datetime.timedelta(days=1)
    with pytest.raises(ValidationError) as error:
        services.appointment_create(
            patient=patient,
            site=foreign_site,
            starts_at=starts,
            ends_at=starts + datetime.timedelta(minutes=30),
        )
    assert "site" in error.value.message_dict


def test_duplicate_external_id_is_refused_but_blank_ones_are_not(organization):
    AppointmentFactory(patient__organization=organization, external_id="EXT-1")
    AppointmentFactory(patient__organization=organization, external_id="")
    AppointmentFactory(patient__organization=organization, external_id="")
    duplicate = AppointmentFactory.build(
        patient=PatientFactory(organization=organization), external_id="EXT-1"
    )
    duplicate.site.save()
    with pytest.raises(ValidationError) as error:
        services.appointment_save(appointment=duplicate)
    assert "already has this external id" in str(error.value)


def admin_patient_post(organization, **overrides):
    data = patient_fields(**overrides) | {
        "organization": organization.pk,
        "appointments-TOTAL_FORMS": "0",
        "appointments-INITIAL_FORMS": "0",
    }
    data["birth_date"] = str(data["birth_date"])
    return data


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"phone": "12"}, "Enter a valid phone number"),
        ({"email": "not-an-email"}, "Enter a valid email address"),
        ({"time_zone": "Mars/Olympus"}, "not a known time zone"),
    ],
)
def test_admin_shows_clear_errors(staff_client, organization, overrides, message):
    response = staff_client.post(
        reverse("admin:clinic_patient_add"),
        admin_patient_post(organization, **overrides),
    )
    assert response.status_code == 200
    assert message in response.text
    assert not Patient.objects.exists()


def test_admin_refuses_duplicate_identifier(staff_client, organization):
    PatientFactory(organization=organization, identifier="P-1")
    response = staff_client.post(
        reverse("admin:clinic_patient_add"), admin_patient_post(organization)
    )
    assert response.status_code == 200
    assert "already has this identifier" in response.text
    assert Patient.objects.count() == 1


def test_admin_refuses_appointment_ending_before_start(staff_client, organization):
    patient = PatientFactory(organization=organization)
    site = SiteFactory(organization=organization)
    response = staff_client.post(
        reverse("admin:clinic_appointment_add"),
        {
            "organization": organization.pk,
            "patient": patient.pk,
            "site": site.pk,
            "starts_at_0": "2030-01-10",
            "starts_at_1": "10:00:00",
            "ends_at_0": "2030-01-10",
            "ends_at_1": "09:30:00",
            "status": "booked",
        },
    )
    assert response.status_code == 200
    assert "must end after it starts" in response.text
    assert not Appointment.objects.exists()

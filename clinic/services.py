"""Writes on clinic records. Every write validates fully before it saves."""

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from clinic.models import Appointment, Organization, Patient, Site, StaffMember


@transaction.atomic
def patient_save(*, patient: Patient) -> Patient:
    """Validate and save a patient (new or changed); raise ValidationError."""
    if patient.organization_id:
        patient.time_zone = patient.time_zone or patient.organization.time_zone
        patient.preferred_language = (
            patient.preferred_language or patient.organization.default_language
        )
    patient.full_clean()
    patient.save()
    return patient


def patient_create(*, organization: Organization, **fields: Any) -> Patient:
    return patient_save(patient=Patient(organization=organization, **fields))


def patient_update(*, patient: Patient, **fields: Any) -> Patient:
    for name, value in fields.items():
        setattr(patient, name, value)
    return patient_save(patient=patient)


@transaction.atomic
def appointment_save(*, appointment: Appointment) -> Appointment:
    """Validate and save an appointment (new or changed); raise ValidationError."""
    if appointment.patient_id and not appointment.organization_id:
        appointment.organization_id = appointment.patient.organization_id
    appointment.full_clean()
    appointment.save()
    return appointment


def appointment_create(*, patient: Patient, site: Site, **fields: Any) -> Appointment:
    return appointment_save(
        appointment=Appointment(
            organization_id=patient.organization_id,
            patient=patient,
            site=site,
            **fields,
        )
    )


@transaction.atomic
def staff_member_create(
    *,
    organization: Organization,
    username: str,
    password: str,
    role: str,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
) -> StaffMember:
    """Create a user who can sign in to admin and their StaffMember record."""
    user: AbstractBaseUser = get_user_model()(
        username=username,
        first_name=first_name,
        last_name=last_name,
        email=email,
        is_staff=True,
    )
    user.set_password(password)
    user.full_clean()
    user.save()
    member = StaffMember(user=user, organization=organization, role=role)
    member.full_clean()
    member.save()
    return member

"""Writes on clinic records. Every write validates fully before it saves."""

import datetime
from collections.abc import Iterable
from typing import Any

import phonenumbers
from phonenumber_field.phonenumber import PhoneNumber

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from clinic.branding import logo_inspect
from clinic.models import (
    AccessAudit,
    Appointment,
    Organization,
    OrganizationLogo,
    Patient,
    Site,
    StaffMember,
)
from clinic.signals import appointment_changed


@transaction.atomic
def patient_save(*, patient: Patient) -> Patient:
    """Validate and save a patient (new or changed); raise ValidationError."""
    if patient.organization_id:
        patient.time_zone = patient.time_zone or patient.organization.time_zone
        patient.preferred_language = (
            patient.preferred_language or patient.organization.default_language
        )
    patient.full_clean()
    patient.phone_is_mobile = phone_is_mobile(patient.phone)
    patient.save()
    return patient


@transaction.atomic
def organization_logo_set(*, organization: Organization, data: bytes) -> None:
    """Store ``data`` as the organization's logo, once checked
    (``clinic.branding.logo_inspect``: PNG, JPEG or WebP, decoded, size
    capped); raise ValidationError otherwise. The hash on the organization
    row changes the logo's URL, so browsers fetch the new one."""
    image = logo_inspect(data)
    OrganizationLogo.objects.update_or_create(
        organization=organization,
        defaults={
            "image": data,
            "content_type": image.content_type,
            "width": image.width,
            "height": image.height,
            "sha256": image.sha256,
        },
    )
    organization.logo_hash = image.sha256
    Organization.objects.filter(pk=organization.pk).update(
        logo_hash=image.sha256, updated_at=timezone.now()
    )


@transaction.atomic
def organization_logo_clear(*, organization: Organization) -> None:
    """Remove the organization's logo; pages fall back to its name."""
    OrganizationLogo.objects.filter(organization=organization).delete()
    organization.logo_hash = ""
    Organization.objects.filter(pk=organization.pk).update(
        logo_hash="", updated_at=timezone.now()
    )


def phone_is_mobile(phone: PhoneNumber | None) -> bool:
    """Whether a number can receive SMS (mobile, or a North American number,
    where mobile and landline share ranges)."""
    if not phone or not phone.is_valid():
        return False
    return phonenumbers.number_type(phone) in {
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    }


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
    created = appointment.pk is None
    # What the status was, for receivers that react to a change of status.
    previous_status = (
        None
        if created
        else Appointment.objects.filter(pk=appointment.pk)
        .values_list("status", flat=True)
        .first()
    )
    appointment.save()
    appointment_changed.send(
        sender=Appointment,
        appointment=appointment,
        created=created,
        previous_status=previous_status,
    )
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


def access_audit_record(
    *,
    patient: Patient,
    action: str,
    actor: AbstractBaseUser | None = None,
    actor_label: str = "",
    detail: str = "",
    client_address: str | None = None,
) -> AccessAudit:
    """Note that someone read or acted on a patient's record (shown to the patient).

    ``actor_label`` names who it was in words ("Dr Martin", "API key EHR sync");
    ``detail`` must never contain health data.
    """
    if not actor_label and actor is not None:
        actor_label = actor.get_full_name() or actor.get_username()
    return AccessAudit.objects.create(
        organization_id=patient.organization_id,
        patient=patient,
        actor=actor,
        actor_label=actor_label[:200],
        action=action,
        detail=detail[:200],
        client_address=client_address,
    )


# A staff member's reads of one patient on one surface (a list, a record's
# page, a drill-down) within this window are one entry: paging back and forth
# through a list, or reloading a page, would otherwise flood the patient's
# "who accessed my record" with identical lines.
AUDIT_REPEAT_WINDOW = datetime.timedelta(minutes=5)


def access_audit_record_many(
    *,
    patient_ids: Iterable[int],
    actor: AbstractBaseUser,
    action: str,
    detail: str,
    client_address: str | None = None,
    at: datetime.datetime | None = None,
) -> int:
    """Note that ``actor`` (a staff user) read these patients' records on the
    surface ``detail`` names ("admin: clinic.appointment list"); returns how
    many entries were written.

    Set-wise: one query reads the patients' organizations and which of them
    already have an entry for this actor, action and detail within
    ``AUDIT_REPEAT_WINDOW``, one INSERT writes the others, whatever the
    number of patients. ``detail`` must never contain health data.
    """
    ids = sorted({pk for pk in patient_ids if pk is not None})
    if not ids:
        return 0
    at = at or timezone.now()
    detail = detail[:200]
    recent = AccessAudit.objects.filter(
        patient=OuterRef("pk"),
        actor=actor,
        action=action,
        detail=detail,
        occurred_at__gt=at - AUDIT_REPEAT_WINDOW,
    )
    due = (
        Patient.objects.filter(pk__in=ids)
        .annotate(recent=Exists(recent))
        .filter(recent=False)
        .values_list("pk", "organization_id")
    )
    label = (actor.get_full_name() or actor.get_username())[:200]
    rows = [
        AccessAudit(
            organization_id=organization_id,
            patient_id=patient_id,
            actor=actor,
            actor_label=label,
            action=action,
            detail=detail,
            client_address=client_address,
            occurred_at=at,
        )
        for patient_id, organization_id in due
    ]
    AccessAudit.objects.bulk_create(rows)
    return len(rows)

"""The right to erasure (GDPR art. 17), as anonymisation that keeps what law requires.

What goes: the patient's name, identifier, birth date, email and phone, their
portal account's identity, caregiver links, contact-point verification state,
channel choices, and everything registered apps erase (message bodies,
addresses…). Copies of the identity in the access audit (rows the patient's
own account wrote) and in admin history (object names) are rewritten.

What stays, and why:

- The consent ledger (``ConsentEvent``) is the controller's proof that each
  message was sent lawfully (GDPR art. 7(1), art. 17(3)(e): establishing or
  defending legal claims), so its rows are neither changed nor deleted, and
  the database refuses it anyway. Its rows hold no name or contact point: the
  actor label names a channel or a staff member, and the IP address and user
  agent are kept as that proof, linked only to an anonymous record.
- Send records and appointments carry no identity; they keep caps, statistics
  and the clinic's activity history right. Medical records proper live in the
  clinic's EHR under their own retention law, not here.
- The access audit stays: it is the record of who processed the data.
- ``objects_to_automation`` stays set, so an objection outlives erasure.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from clinic.models import AccessAudit, Caregiver, Patient
from clinic.services import access_audit_record
from consent.gdpr import SYSTEM_LABEL, registry
from consent.models import PatientPreferences, PatientPrivacy
from consent.requests.models import ErasureRequest

ERASED_GIVEN_NAME = "Erased"
ERASED_FAMILY_NAME = "Patient"
ERASED_BIRTH_DATE = datetime.date(1900, 1, 1)
# What rows the erased person's own account wrote say instead of their name.
ERASED_ACTOR_LABEL = "erased patient"


@dataclasses.dataclass(frozen=True)
class ErasureReport:
    """What one erasure did: rows changed per kind, or that it had been done."""

    patient_public_id: str
    erased_at: datetime.datetime
    already_erased: bool
    rows: dict[str, int] = dataclasses.field(default_factory=dict)


def erased_identifier(patient: Patient) -> str:
    return f"erased-{patient.public_id.hex[:12]}"


def _account_is_staff(user: AbstractBaseUser) -> bool:
    return bool(user.is_staff or user.is_superuser or hasattr(user, "staff_member"))


def _erase_account(user: AbstractBaseUser) -> int:
    """Anonymise and lock the portal account; 0 when it is a staff account.

    A staff account is only detached from the record: it still serves the
    person's work and its identity is the employer's data, not the patient's.
    """
    if _account_is_staff(user):
        return 0
    user.username = f"erased-{user.pk}"
    user.first_name = ""
    user.last_name = ""
    user.email = ""
    user.is_active = False
    # A new password hash also ends every session the account still has.
    user.set_unusable_password()
    user.save()
    return 1


def _scrub_access_audit(user: AbstractBaseUser | None) -> int:
    if user is None or _account_is_staff(user):
        return 0
    return AccessAudit.objects.filter(actor=user).update(actor_label=ERASED_ACTOR_LABEL)


def _scrub_admin_log(patient: Patient, user: AbstractBaseUser | None) -> int:
    # Admin history names objects with str(): the patient, and every object
    # whose str() embeds the patient's (appointments, caregiver links).
    entries = Q(object_repr__contains=str(patient)) | Q(
        content_type__in=ContentType.objects.get_for_models(
            Patient, PatientPrivacy, for_concrete_models=False
        ).values(),
        object_id=str(patient.pk),
    )
    if user is not None and not _account_is_staff(user):
        entries |= Q(
            content_type=ContentType.objects.get_for_model(user),
            object_id=str(user.pk),
        )
    return LogEntry.objects.filter(entries).update(
        object_repr=f"{ERASED_FAMILY_NAME} {erased_identifier(patient)}"
    )


def _scrub_preferences(patient: Patient) -> int:
    return PatientPreferences.objects.filter(patient=patient).update(
        email_verified_at=None,
        phone_verified_at=None,
        email_invalid_at=None,
        phone_invalid_at=None,
        channel_order={},
        updated_at=timezone.now(),
    )


def _scrub_patient(patient: Patient, now: datetime.datetime) -> int:
    # update() rather than patient_save(): erased values are not a valid
    # patient to full_clean(), and nothing here may be refused half-way.
    return Patient.objects.filter(pk=patient.pk).update(
        identifier=erased_identifier(patient),
        given_name=ERASED_GIVEN_NAME,
        family_name=ERASED_FAMILY_NAME,
        birth_date=ERASED_BIRTH_DATE,
        email="",
        phone="",
        phone_is_mobile=False,
        user=None,
        erased_at=now,
        updated_at=now,  # partners syncing "updated since" pick the erasure up
    )


@transaction.atomic
def erase_patient(
    *, patient: Patient, actor: Any = None, actor_label: str = ""
) -> ErasureReport:
    """Anonymise ``patient`` (see the module docstring for what goes and stays).

    Runs in one transaction with the patient row locked: registered erasers
    first, while the record still holds the identity they may need to find
    copies, then the clinic and consent rows, then one access-audit row
    (action ERASE, by ``actor``/``actor_label``). ``patient`` is refreshed.

    Idempotent: erasing an erased patient changes nothing, writes no audit row
    and returns a report with ``already_erased=True``.
    """
    locked = Patient.objects.select_for_update().get(pk=patient.pk)
    if locked.erased_at is not None:
        patient.refresh_from_db()
        return ErasureReport(
            patient_public_id=str(locked.public_id),
            erased_at=locked.erased_at,
            already_erased=True,
        )
    now = timezone.now()
    rows: dict[str, int] = {}
    for eraser in registry.erasers():
        rows[registry.eraser_name(eraser)] = eraser(locked)
    user = locked.user
    rows["admin_log"] = _scrub_admin_log(locked, user)
    rows["access_audit"] = _scrub_access_audit(user)
    rows["account"] = _erase_account(user) if user is not None else 0
    rows["caregivers"], _ = Caregiver.objects.filter(patient=locked).delete()
    rows["preferences"] = _scrub_preferences(locked)
    rows["patient"] = _scrub_patient(locked, now)
    # An erasure from the privacy page answers the patient's open request too,
    # or staff would find it open, due, and with nothing left to erase.
    rows["erasure_requests"] = ErasureRequest.objects.filter(
        patient=locked, status=ErasureRequest.Status.OPEN
    ).update(
        status=ErasureRequest.Status.DONE,
        handled_at=now,
        handled_by=actor if isinstance(actor, AbstractBaseUser) else None,
    )
    patient.refresh_from_db()
    access_audit_record(
        patient=patient,
        action=AccessAudit.Action.ERASE,
        actor=actor,
        # The audit row always names someone; the patient reads it.
        actor_label=actor_label or ("" if actor is not None else SYSTEM_LABEL),
    )
    return ErasureReport(
        patient_public_id=str(patient.public_id),
        erased_at=now,
        already_erased=False,
        rows=rows,
    )

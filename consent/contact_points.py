"""Whether the patient's email and phone are proven to be theirs.

Security messages (sign-in codes, invitations' follow-ups) go only to verified
contact points. A contact point is verified when a code or link sent to it
came back (portal contact change, enrolment), and stops being verified the
moment it changes by any other path (admin, API, import): a verified flag
must never carry over to an address nobody proved.
"""

from __future__ import annotations

import datetime

from django.db.models.signals import pre_save

from clinic.models import Patient
from consent.models import PatientPreferences

FIELDS = {
    "email": ("email_verified_at", "email_invalid_at"),
    "phone": ("phone_verified_at", "phone_invalid_at"),
}


def contact_point_is_verified(*, preferences: PatientPreferences, kind: str) -> bool:
    verified, invalid = FIELDS[kind]
    return bool(getattr(preferences, verified) and not getattr(preferences, invalid))


def contact_point_verified(
    *, patient: Patient, kind: str, at: datetime.datetime
) -> None:
    """The patient proved ``kind`` (``email`` or ``phone``) is theirs at ``at``:
    verified, and no longer known bad."""
    verified, invalid = FIELDS[kind]
    preferences, _ = PatientPreferences.objects.get_or_create(patient=patient)
    setattr(preferences, verified, at)
    setattr(preferences, invalid, None)
    preferences.save(update_fields=[verified, invalid, "updated_at"])


def _forget_changed_contact_points(sender, instance: Patient, **kwargs) -> None:
    if instance.pk is None or kwargs.get("raw"):
        return
    before = (
        Patient.objects.filter(pk=instance.pk).values("email", "phone").first() or {}
    )
    changed = [
        kind
        for kind in FIELDS
        if before and str(before[kind] or "") != str(getattr(instance, kind) or "")
    ]
    if changed:
        PatientPreferences.objects.filter(patient_id=instance.pk).update(
            **{field: None for kind in changed for field in FIELDS[kind]}
        )


def connect() -> None:
    pre_save.connect(
        _forget_changed_contact_points,
        sender=Patient,
        dispatch_uid="consent.contact_points.forget_changed",
    )

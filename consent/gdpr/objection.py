"""The right to object to automated processing (GDPR art. 21, 22).

The flag lives on ``PatientPreferences`` and takes effect at once. Campaign
audiences (``campaigns.audience``) leave an objecting patient out, with the
reason ``objects_to_automation``; a feature that adds automated processing of
patients asks ``patient_objects_to_automation`` before it acts. Appointment
reminders, messages from staff and survey invitations do not ask it: the
patient's topic × channel choices govern those. The portal's confirmation
page (``templates/portal/data/objection_confirm.html``) says so in words.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from clinic.models import AccessAudit, Patient
from clinic.services import access_audit_record
from consent.errors import ConsentError
from consent.gdpr import SYSTEM_LABEL
from consent.models import PatientPreferences
from consent.services import preferences_get
from consent.vocabulary import Source


@transaction.atomic
def object_to_automation(
    *,
    patient: Patient,
    objects: bool = True,
    actor: Any = None,
    actor_label: str = "",
    source: str = Source.STAFF,
) -> PatientPreferences:
    """Record that ``patient`` objects (or no longer objects) to automated processing.

    Sets ``objects_to_automation`` and ``objected_at`` (the time of the change;
    cleared when the objection is lifted) and writes one access-audit row
    (action OBJECT) naming ``source``. Recording the state already in force
    changes nothing and writes nothing. Returns the preferences; raises
    ConsentError for an unknown source.
    """
    if source not in Source.values:
        raise ConsentError(f"Unknown source: {source!r}.")
    preferences = preferences_get(patient=patient)
    preferences = PatientPreferences.objects.select_for_update().get(pk=preferences.pk)
    if preferences.objects_to_automation == objects:
        return preferences
    preferences.objects_to_automation = objects
    preferences.objected_at = timezone.now() if objects else None
    preferences.save(
        update_fields=["objects_to_automation", "objected_at", "updated_at"]
    )
    access_audit_record(
        patient=patient,
        action=AccessAudit.Action.OBJECT,
        actor=actor,
        # The audit row always names someone; the patient reads it.
        actor_label=actor_label or ("" if actor is not None else SYSTEM_LABEL),
        detail=f"{'objection' if objects else 'objection lifted'} ({source})",
    )
    return preferences


def patient_objects_to_automation(*, patient: Patient) -> bool:
    """Whether ``patient`` objects to automated processing (False without a row)."""
    return PatientPreferences.objects.filter(
        patient=patient, objects_to_automation=True
    ).exists()


def objection_since(*, patient: Patient) -> datetime.datetime | None:
    """When the objection in force was recorded; None when the patient does
    not object (or the time is unknown)."""
    return (
        PatientPreferences.objects.filter(patient=patient, objects_to_automation=True)
        .values_list("objected_at", flat=True)
        .first()
    )

"""Reads of a patient's contact-detail changes, always scoped to the patient."""

from __future__ import annotations

import datetime
from uuid import UUID

from django.shortcuts import get_object_or_404
from django.utils import timezone

from clinic.models import Patient
from portal.contact_points.models import ContactPointChange
from portal.contact_points.services import CHANGE_LIFETIME


def contact_change_get(*, patient: Patient, public_id: UUID) -> ContactPointChange:
    """The patient's change with ``public_id``, whatever its status; Http404
    for any other patient's (or organization's) change."""
    return get_object_or_404(
        ContactPointChange.objects.for_patient(patient).select_related(
            "patient__organization"
        ),
        public_id=public_id,
    )


def contact_change_is_pending(
    change: ContactPointChange, now: datetime.datetime | None = None
) -> bool:
    """Whether the change still waits for its code (not finished, not too old)."""
    now = now or timezone.now()
    return (
        change.status == ContactPointChange.Status.PENDING
        and change.created_at > now - CHANGE_LIFETIME
    )


def contact_changes_pending(
    *, patient: Patient, now: datetime.datetime | None = None
) -> list[ContactPointChange]:
    """The patient's changes still waiting for a code, newest first."""
    now = now or timezone.now()
    return list(
        ContactPointChange.objects.for_patient(patient)
        .pending()
        .filter(created_at__gt=now - CHANGE_LIFETIME)
        .order_by("-created_at")
    )


def contact_changes_confirmed(
    *, patient: Patient, limit: int = 5
) -> list[ContactPointChange]:
    """The patient's latest confirmed changes, newest first."""
    return list(
        ContactPointChange.objects.for_patient(patient)
        .filter(status=ContactPointChange.Status.CONFIRMED)
        .select_related("requested_by")
        .order_by("-finished_at")[:limit]
    )

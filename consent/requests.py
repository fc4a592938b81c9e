"""Writes on patients' requests about their data (erasure, for now)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from clinic.models import Patient
from consent.gdpr.erase import ErasureReport, erase_patient
from consent.models_requests import ERASURE_DELAY, ErasureRequest


@transaction.atomic
def erasure_request_create(*, patient: Patient, requested_by: Any) -> ErasureRequest:
    """Record that ``patient`` asked to be erased; due one month later.

    An open request already on file is returned unchanged, so asking twice
    neither duplicates the work nor moves the due date.
    """
    open_request = (
        ErasureRequest.objects.select_for_update()
        .filter(patient=patient)
        .open()
        .first()
    )
    if open_request is not None:
        return open_request
    now = timezone.now()
    request = ErasureRequest(
        patient=patient,
        requested_at=now,
        requested_by=requested_by,
        due_at=now + ERASURE_DELAY,
    )
    request.full_clean()
    request.save()
    return request


def erasure_request_open_get(*, patient: Patient) -> ErasureRequest | None:
    """The patient's open erasure request, if any."""
    return ErasureRequest.objects.filter(patient=patient).open().first()


@transaction.atomic
def erasure_request_fulfil(
    *, erasure_request: ErasureRequest, actor: Any
) -> ErasureReport:
    """Erase the patient (``consent.gdpr.erase.erase_patient``) and close the request.

    Returns the erasure report; the request is marked done, handled now by
    ``actor``. The caller checks the ``consent.erase_patient`` permission.
    """
    report = erase_patient(patient=erasure_request.patient, actor=actor)
    erasure_request.status = ErasureRequest.Status.DONE
    erasure_request.handled_at = timezone.now()
    erasure_request.handled_by = actor
    erasure_request.save(update_fields=["status", "handled_at", "handled_by"])
    return report

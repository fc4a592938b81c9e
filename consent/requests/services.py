"""Patients' requests about their data (erasure, for now): ask, withdraw, carry out.

An open request is the only one that moves. Withdrawing it (the patient) and
carrying it out (staff) both lock its row and check it is still open, so
whichever commits first wins and the other is refused: a request the patient
withdrew is never carried out, and a carried-out one is never "withdrawn".
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from clinic.models import Patient
from consent.gdpr.erase import ErasureReport, erase_patient
from consent.requests.models import ERASURE_DELAY, ErasureRequest


class ErasureRequestClosedError(Exception):
    """The request is no longer open (done, refused or withdrawn): nothing was
    changed. ``status`` says which."""

    def __init__(self, status: str) -> None:
        super().__init__(f"The erasure request is {status}, no longer open.")
        self.status = status


def _lock_open(erasure_request: ErasureRequest) -> ErasureRequest:
    locked = ErasureRequest.objects.select_for_update().get(pk=erasure_request.pk)
    if locked.status != ErasureRequest.Status.OPEN:
        raise ErasureRequestClosedError(locked.status)
    return locked


@transaction.atomic
def erasure_request_create(*, patient: Patient, requested_by: Any) -> ErasureRequest:
    """Record that ``patient`` asked to be erased; due one month later.

    An open request already on file is returned unchanged, so asking twice
    neither duplicates the work nor moves the due date. The patient's row is
    locked first: two asks at the same instant find one open request, the
    second waiting for the first (the database refuses a second one anyway).
    """
    Patient.objects.select_for_update().filter(pk=patient.pk).first()
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
    return (
        ErasureRequest.objects.for_organization(patient.organization_id)
        .filter(patient=patient)
        .open()
        .first()
    )


def erasure_request_get(*, patient: Patient, public_id: UUID) -> ErasureRequest:
    """The patient's erasure request ``public_id``, whatever its status.

    Raises ErasureRequest.DoesNotExist when it is not this patient's.
    """
    return (
        ErasureRequest.objects.for_organization(patient.organization_id)
        .filter(patient=patient)
        .get(public_id=public_id)
    )


@transaction.atomic
def erasure_request_withdraw(
    *, erasure_request: ErasureRequest, withdrawn_by: Any
) -> ErasureRequest:
    """Withdraw an open request: it is kept, marked withdrawn now by
    ``withdrawn_by``, and can no longer be carried out.

    Returns the request as saved; raises ErasureRequestClosedError (changing
    nothing) when it is no longer open, e.g. already carried out.
    """
    locked = _lock_open(erasure_request)
    locked.status = ErasureRequest.Status.WITHDRAWN
    locked.withdrawn_at = timezone.now()
    locked.withdrawn_by = withdrawn_by
    locked.save(update_fields=["status", "withdrawn_at", "withdrawn_by"])
    return locked


@transaction.atomic
def erasure_request_fulfil(
    *, erasure_request: ErasureRequest, actor: Any
) -> ErasureReport:
    """Erase the patient (``consent.gdpr.erase.erase_patient``) and close the request.

    Returns the erasure report; the request is marked done, handled now by
    ``actor``, and ``erasure_request`` is refreshed. Raises
    ErasureRequestClosedError, erasing nothing, when the request is no longer
    open (withdrawn by the patient, refused or already done). The caller
    checks the ``consent.erase_patient`` permission.
    """
    locked = _lock_open(erasure_request)
    report = erase_patient(patient=locked.patient, actor=actor)
    locked.status = ErasureRequest.Status.DONE
    locked.handled_at = timezone.now()
    locked.handled_by = actor
    locked.save(update_fields=["status", "handled_at", "handled_by"])
    erasure_request.refresh_from_db()
    return report

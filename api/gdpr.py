"""The partner API's part of a patient's erasure (registered in
``ApiConfig.ready``): answers kept for Idempotency-Key replays may hold the
patient's details (the answer to ``POST /patients/``) for up to a day."""

from __future__ import annotations

from clinic.models import Patient


def idempotency_records_erase(patient: Patient) -> int:
    from api.models import IdempotencyRecord

    needle = str(patient.public_id).encode()
    records = IdempotencyRecord.objects.filter(
        api_key__organization_id=patient.organization_id
    ).only("pk", "response_body")
    doomed = [r.pk for r in records.iterator() if needle in bytes(r.response_body)]
    IdempotencyRecord.objects.filter(pk__in=doomed).delete()
    return len(doomed)

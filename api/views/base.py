"""What every partner-API view shares: the key's organization, the access
audit, and Idempotency-Key handling on POST."""

from rest_framework import generics, status, viewsets
from rest_framework.response import Response

from django.db import transaction

from api.idempotency import (
    HEADER,
    Replay,
    idempotency_begin,
    idempotency_finish,
    request_hash,
)
from api.models import ApiKey
from clinic.models import AccessAudit, Organization, Patient
from core.client_address import client_ip


class ApiViewMixin:
    """Mix into a DRF view. Subclasses set ``read_scope`` / ``write_scope``."""

    read_scope: str | None = None
    write_scope: str | None = None

    @property
    def api_key(self) -> ApiKey:
        return self.request.auth

    @property
    def organization(self) -> Organization:
        return self.request.auth.organization

    def audit_read(
        self,
        patients: Patient | list[Patient | None] | None,
        detail: str,
        action: str = AccessAudit.Action.VIEW_RECORD,
    ) -> None:
        """Note in each patient's access log that this key read their record
        (``action``: ``VIEW_MESSAGE`` for messages).

        ``detail`` names what was read ("API: appointment"), never its content.
        None stands for nobody (an anonymous survey response) and is skipped.
        """
        if patients is None or isinstance(patients, Patient):
            patients = [patients]
        patients = [patient for patient in patients if patient is not None]
        rows = [
            AccessAudit(
                organization_id=patient.organization_id,
                patient_id=patient.pk,
                actor_label=self.api_key.actor_label,
                action=action,
                detail=detail[:200],
                client_address=client_ip(self.request),
            )
            for patient in {p.pk: p for p in patients}.values()
        ]
        if len(rows) == 1:
            # One INSERT, without the BEGIN and COMMIT bulk_create puts around it.
            rows[0].save(force_insert=True)
        else:
            AccessAudit.objects.bulk_create(rows)

    def options(self, request, *args, **kwargs):
        """204 with the ``Allow`` header (set on every answer) and no body.

        DRF's metadata would describe the serializers by building the view's
        object, which an upsert URL (``by-identifier``) has no ``id`` for (a
        500); the schema at ``/api/schema/`` is where operations are described.
        """
        return Response(status=status.HTTP_204_NO_CONTENT)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        key = request.headers.get(HEADER)
        if request.method == "POST" and key is not None:
            fingerprint = request_hash(
                request.method, request.get_full_path(), request._request.body
            )
            request.idempotency_record = idempotency_begin(
                api_key=request.auth, key=key, fingerprint=fingerprint
            )

    def handle_exception(self, exc):
        if isinstance(exc, Replay):
            return exc.response
        try:
            return super().handle_exception(exc)
        except Exception:
            # A bug answered 500: let a retry run again rather than wait a day.
            record = getattr(self.request, "idempotency_record", None)
            if record is not None:
                record.delete()
            raise

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        record = getattr(request, "idempotency_record", None)
        if record is not None:
            if hasattr(response, "render"):
                response.render()
            # The answer is kept even if the view's own transaction is rolled back.
            with transaction.atomic():
                idempotency_finish(record=record, response=response)
        return response


class ApiGenericView(ApiViewMixin, generics.GenericAPIView):
    pass


class ApiGenericViewSet(ApiViewMixin, viewsets.GenericViewSet):
    pass

"""The two shapes of FHIR endpoint: an instance (``/Type/{id}``: read, and
update where a subclass adds ``put``) and a type (``/Type``: search, and
create where a subclass adds ``post``)."""

from __future__ import annotations

import datetime
from typing import Any

from rest_framework import exceptions
from rest_framework.response import Response

from django.db.models import Model, QuerySet
from django.utils.http import http_date

from api.fhir.base import FhirError, FhirView
from api.fhir.search import search_filter, search_page, searchset
from clinic.models import AccessAudit, Patient


class FhirResourceView(FhirView):
    #: How a read shows in the patient's access log.
    audit_action: str = AccessAudit.Action.VIEW_RECORD

    def queryset(self) -> QuerySet:
        """The organization's rows of this resource, ready for ``to_fhir``."""
        raise NotImplementedError

    def to_fhir(self, obj: Model) -> dict[str, Any]:
        raise NotImplementedError

    def to_fhir_page(self, rows: list[Model]) -> list[dict[str, Any]]:
        return [self.to_fhir(row) for row in rows]

    def patient_of(self, obj: Model) -> Patient:
        return obj.patient

    def object_get(self, public_id: Any, queryset: QuerySet | None = None) -> Model:
        """The row with this public id in the key's organization, or 404."""
        queryset = self.queryset() if queryset is None else queryset
        found = queryset.filter(public_id=public_id).first()
        if found is None:
            raise exceptions.NotFound(f"No {self.resource_type} with this id.")
        return found

    def versioned(self, resource: dict[str, Any], status_code: int = 200) -> Response:
        """A create's or update's answer, as FHIR asks of both: the resource,
        ``ETag: W/"<versionId>"``, ``Last-Modified``, and ``Location`` naming
        the version (``…/<id>/_history/<versionId>``)."""
        response = Response(resource, status=status_code)
        meta = resource["meta"]
        response["ETag"] = f'W/"{meta["versionId"]}"'
        modified = datetime.datetime.fromisoformat(meta["lastUpdated"])
        response["Last-Modified"] = http_date(modified.timestamp())
        response["Location"] = (
            self.absolute_url(self.resource_type, resource["id"])
            + f"/_history/{meta['versionId']}"
        )
        return response


class FhirInstanceView(FhirResourceView):
    """``GET /Type/{id}``."""

    interactions = ("read",)

    def get(self, request, id):
        obj = self.object_get(id)
        self.audit_read(
            self.patient_of(obj),
            f"API: FHIR {self.resource_type}",
            action=self.audit_action,
        )
        return Response(self.to_fhir(obj))


class FhirVersionView(FhirResourceView):
    """``GET /Type/{id}/_history/{vid}`` (vread), where a create or update's
    ``Location`` points. No history is kept: the current version answers,
    an older one is 404."""

    interactions = ("vread",)

    def get(self, request, id, vid):
        obj = self.object_get(id)
        resource = self.to_fhir(obj)
        if resource["meta"]["versionId"] != vid:
            raise FhirError(
                f"Only the current version of a {self.resource_type} is kept.",
                code="not-found",
                status_code=404,
            )
        self.audit_read(
            self.patient_of(obj),
            f"API: FHIR {self.resource_type}",
            action=self.audit_action,
        )
        return Response(resource)


class FhirTypeView(FhirResourceView):
    """``GET /Type?…``: a searchset Bundle, paged by cursor."""

    interactions = ("search-type",)
    ordering: tuple[str, ...] = ("updated_at", "id")

    def get(self, request):
        queryset = self.queryset().filter(search_filter(self, self.search_params))
        rows, total, next_url = search_page(self, queryset, self.ordering)
        self.audit_read(
            [self.patient_of(row) for row in rows],
            f"API: FHIR {self.resource_type} search",
            action=self.audit_action,
        )
        return Response(searchset(self, self.to_fhir_page(rows), total, next_url))

"""``GET /fhir/r4/metadata``: the CapabilityStatement, public like any API's
documentation. It is read off the URL conf, so it lists exactly the
interactions and search parameters the views implement."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from django.urls import URLPattern

from api.fhir.base import FhirView
from clinic.fhir import fhir_validate

# The CapabilityStatement changes with the code, not the data.
RELEASED = "2026-12-01"

SCOPES = (
    "Authorization: Bearer <API key> (scopes: patients:read to read Patient and "
    "Appointment, appointments:write to create and update Appointment, "
    "messages:send for CommunicationRequest, messages:read for Communication "
    "and reading CommunicationRequest, consent:read for Consent)."
)


def fhir_views(routes: Sequence[URLPattern]) -> list[type[FhirView]]:
    """The FHIR resource views among ``routes``, in their order."""
    return [
        pattern.callback.view_class
        for pattern in routes
        if issubclass(pattern.callback.view_class, FhirView)
        and pattern.callback.view_class.resource_type
    ]


def capability_resources(routes: Sequence[URLPattern]) -> list[dict[str, Any]]:
    """One entry per resource type of ``routes``: its interactions and search
    parameters."""
    found: dict[str, dict[str, Any]] = {}
    for view in fhir_views(routes):
        entry = found.setdefault(
            view.resource_type,
            {"type": view.resource_type, "interaction": [], "searchParam": []},
        )
        entry["interaction"] += [{"code": code} for code in view.interactions]
        entry["searchParam"] += [
            {"name": name, "type": param.type, "documentation": param.documentation}
            for name, param in view.search_params.items()
        ]
    resources = []
    for entry in found.values():
        if not entry["searchParam"]:
            del entry["searchParam"]
        if any(i["code"] == "update" for i in entry["interaction"]):
            entry["updateCreate"] = False
        resources.append(entry)
    return resources


class MetadataView(FhirView):
    authentication_classes = []
    permission_classes = [AllowAny]
    #: The facade's resource routes, given by ``api.fhir.urls`` (which imports
    #: this view, so this module cannot import it).
    routes: Sequence[URLPattern] = ()

    def get(self, request):
        statement = {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": RELEASED,
            "publisher": "Liaison",
            "kind": "instance",
            "software": {"name": "Liaison"},
            "implementation": {
                "description": "Liaison FHIR R4 facade",
                "url": request.build_absolute_uri(self.base_path()),
            },
            "fhirVersion": "4.0.1",
            "format": ["json"],
            "rest": [
                {
                    "mode": "server",
                    "security": {"description": SCOPES},
                    "resource": capability_resources(self.routes),
                }
            ],
        }
        return Response(fhir_validate(CapabilityStatement, statement))

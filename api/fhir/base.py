"""What every FHIR view shares: ``application/fhir+json`` in and out, errors
as OperationOutcome (never problem+json or HTML), and the partner API's keys,
scopes, organization, audit and idempotency (``api.views.base``).

Status codes follow the FHIR RESTful API: 400 for a body or search that cannot
be parsed or fails FHIR validation, 404 for an unknown id (or another
organization's), 409 when the resource's state refuses the change, 422 when a
valid request breaks a rule of the server.
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.operationoutcome import OperationOutcome
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from api.problems import _translate as translate_domain_error
from api.views.base import ApiViewMixin
from clinic.fhir import fhir_validate
from messaging.content import MessageContentError

FHIR_JSON = "application/fhir+json"

# http://hl7.org/fhir/R4/valueset-issue-type.html, by HTTP status.
ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    409: "conflict",
    412: "conflict",
    415: "not-supported",
    422: "business-rule",
    429: "throttled",
}


class FhirJsonRenderer(JSONRenderer):
    media_type = FHIR_JSON
    format = "fhir+json"


class FhirJsonParser(JSONParser):
    media_type = FHIR_JSON


class FhirError(exceptions.APIException):
    """A refusal with its OperationOutcome issues: ``(code, diagnostics,
    expression)``, the expression a FHIRPath to the element ("Appointment.start")
    or a search parameter's name. Diagnostics name elements, never values."""

    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(
        self,
        diagnostics: str,
        *,
        code: str = "invalid",
        expression: str = "",
        status_code: int = 400,
        issues: list[tuple[str, str, str]] | None = None,
    ) -> None:
        super().__init__(diagnostics)
        self.status_code = status_code
        self.issues = issues or [(code, diagnostics, expression)]


def issue(code: str, diagnostics: str, expression: str = "") -> dict[str, Any]:
    found: dict[str, Any] = {
        "severity": "error",
        "code": code,
        "diagnostics": diagnostics,
    }
    if expression:
        found["expression"] = [expression]
    return found


def operation_outcome(issues: list[dict[str, Any]]) -> dict[str, Any]:
    return fhir_validate(
        OperationOutcome, {"resourceType": "OperationOutcome", "issue": issues}
    )


def _validation_issues(detail: Any, fields: dict[str, str]) -> list[dict[str, Any]]:
    """DRF ValidationError detail (from a domain ValidationError) as issues;
    ``fields`` maps model field names to FHIRPath expressions."""
    if not isinstance(detail, dict):
        detail = {"": detail}
    found = []
    for name, messages in detail.items():
        if not isinstance(messages, list):
            messages = [messages]
        for message in messages:
            found.append(issue("invalid", str(message), fields.get(name, "")))
    return found or [issue("invalid", "Invalid request.")]


def fhir_exception_handler(exc: Exception, context: dict) -> Response | None:
    """The partner API's error translation, answered as an OperationOutcome."""
    if isinstance(exc, MessageContentError):
        exc = FhirError(str(exc), code="business-rule", status_code=422)
    exc = translate_domain_error(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a bug: Django's handler500 answers (api.errors_http).
    if isinstance(exc, FhirError):
        issues = [issue(*item) for item in exc.issues]
    elif isinstance(exc, exceptions.ValidationError):
        fields = getattr(context.get("view"), "fhir_fields", {})
        issues = _validation_issues(exc.detail, fields)
    else:
        code = ISSUE_CODES.get(response.status_code, "processing")
        issues = [issue(code, str(getattr(exc, "detail", exc)))]
    response.data = operation_outcome(issues)
    return response


class FhirView(ApiViewMixin, APIView):
    """Base of every ``/fhir/r4/`` view. Subclasses set ``read_scope`` /
    ``write_scope`` like the REST views, and ``resource_type``,
    ``interactions`` and ``search_params`` for the CapabilityStatement."""

    schema = None  # FHIR is described by its CapabilityStatement, not OpenAPI.
    renderer_classes = [FhirJsonRenderer, JSONRenderer]
    parser_classes = [FhirJsonParser, JSONParser]
    resource_type: str = ""
    interactions: tuple[str, ...] = ()
    search_params: dict = {}
    #: Model field → FHIRPath, for domain ValidationErrors.
    fhir_fields: dict[str, str] = {}

    def get_exception_handler(self):
        return fhir_exception_handler

    #: FHIR R4 has no OPTIONS interaction (capabilities are ``GET metadata``):
    #: OPTIONS is 405 with an OperationOutcome and the ``Allow`` header, never
    #: DRF's metadata labelled as FHIR.
    http_method_names = ["get", "post", "put", "patch", "delete", "head"]

    def initial(self, request, *args, **kwargs):
        # An interaction this endpoint lacks is 405 for every key, before scopes.
        method = request.method.lower()
        if method not in self.http_method_names or not hasattr(self, method):
            raise exceptions.MethodNotAllowed(request.method)
        super().initial(request, *args, **kwargs)

    def absolute_url(self, resource_type: str, public_id: Any) -> str:
        return self.request.build_absolute_uri(
            f"{self.base_path()}{resource_type}/{public_id}"
        )

    def base_path(self) -> str:
        """``/fhir/r4/`` as mounted (the service base URL's path)."""
        from django.urls import reverse

        return reverse("fhir:metadata").removesuffix("metadata")

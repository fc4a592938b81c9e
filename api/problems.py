"""Every API failure as ``application/problem+json`` (RFC 9457).

Field errors are listed under ``errors``, each with a JSON pointer to the
field (``#/starts_at``) and a sentence. Django errors raised by the domain
services (ValidationError, a refused appointment action, a consent rule, a
message that cannot be rendered) are translated here, so views stay thin and
never catch them one by one.
"""

from typing import Any

from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse

from clinic.appointments.actions import AppointmentActionError
from clinic.roles import PurposeNotAllowed
from consent.errors import ConsentError
from messaging.content import MessageContentError

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://liaison.example/problems/"

TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    412: "Precondition failed",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Server error",
}


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the resource's current state."
    default_code = "conflict"


class PurposeForbidden(exceptions.PermissionDenied):
    """The key may not send a topic of this purpose (``ApiKey.purposes``)."""

    default_code = "purpose_not_allowed"


class SecretsUnavailable(exceptions.APIException):
    """No CREDENTIALS_KEY: a signing secret cannot be stored (messaging.E006)."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = (
        "Webhook secrets cannot be stored: the server has no CREDENTIALS_KEY."
    )
    default_code = "secrets_unavailable"


class Unprocessable(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "The request cannot be processed."
    default_code = "unprocessable"


def problem(
    status_code: int, detail: str, *, code: str = "", errors: list | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + (code or str(status_code)),
        "title": TITLES.get(status_code, "Error"),
        "status": status_code,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    return body


def _field_errors(data: Any, pointer: str = "#") -> list[dict[str, str]]:
    """DRF's nested error dict/list as a flat list of {pointer, detail}."""
    if isinstance(data, dict):
        found = []
        for name, value in data.items():
            whole = name in ("non_field_errors", "__all__")
            sub = pointer if whole else f"{pointer}/{name}"
            found += _field_errors(value, sub)
        return found
    if isinstance(data, list):
        if all(not isinstance(item, (dict, list)) for item in data):
            return [{"pointer": pointer, "detail": str(item)} for item in data]
        found = []
        for index, item in enumerate(data):
            found += _field_errors(item, f"{pointer}/{index}")
        return found
    return [{"pointer": pointer, "detail": str(data)}]


def _translate(exc: Exception) -> Exception:
    if isinstance(exc, DjangoValidationError):
        detail = (
            exc.message_dict
            if hasattr(exc, "error_dict")
            else {"non_field_errors": exc.messages}
        )
        return exceptions.ValidationError(detail)
    if isinstance(exc, AppointmentActionError):
        return Conflict(str(exc))
    if isinstance(exc, ConsentError | MessageContentError):
        return exceptions.ValidationError({"non_field_errors": [str(exc)]})
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, PurposeNotAllowed):
        return PurposeForbidden(str(exc))
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied()
    return exc


def problem_exception_handler(exc: Exception, context: dict) -> Response | None:
    exc = _translate(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a bug: Django's handler500 answers (config.urls).
    if isinstance(exc, exceptions.ValidationError):
        errors = _field_errors(exc.detail)
        body = problem(
            response.status_code,
            "The request has invalid fields." if errors else "Invalid request.",
            code="validation",
            errors=errors,
        )
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = getattr(exc, "default_code", "") or ""
        body = problem(response.status_code, str(detail), code=code)
    response.data = body
    response.content_type = PROBLEM_JSON
    return response


def problem_response(request, status_code: int, detail: str) -> JsonResponse:
    """A problem document outside DRF (URL not found, unhandled error)."""
    return JsonResponse(
        problem(status_code, detail), status=status_code, content_type=PROBLEM_JSON
    )

"""404 and 500 for the partner API and the FHIR facade in their own formats,
never an HTML page (config.urls points Django's handlers here)."""

from django.views import defaults

from api.problems import problem_response

API_PREFIX = "/api/"
FHIR_PREFIX = "/fhir/"


def _operation_outcome(status_code: int, code: str, text: str):
    from django.http import JsonResponse

    return JsonResponse(
        {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": text}],
        },
        status=status_code,
        content_type="application/fhir+json",
    )


def not_found(request, exception=None):
    if request.path.startswith(API_PREFIX):
        return problem_response(request, 404, "No such endpoint or object.")
    if request.path.startswith(FHIR_PREFIX):
        return _operation_outcome(404, "not-found", "No such resource or endpoint.")
    return defaults.page_not_found(request, exception)


def server_error(request):
    if request.path.startswith(API_PREFIX):
        return problem_response(
            request, 500, "Something went wrong on our side; it has been logged."
        )
    if request.path.startswith(FHIR_PREFIX):
        return _operation_outcome(500, "exception", "Server error; it has been logged.")
    return defaults.server_error(request)

"""OpenAPI pieces shared by every endpoint: the problem document and the
error answers each kind of operation can give (schemathesis flags any status
not declared here, STACK.md)."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from api.idempotency import MAX_LENGTH as IDEMPOTENCY_MAX_LENGTH
from api.permissions import required_scope
from api.problems import PROBLEM_JSON


class FieldErrorSerializer(serializers.Serializer):
    pointer = serializers.CharField(
        help_text="JSON pointer to the field, e.g. #/birth_date."
    )
    detail = serializers.CharField()


class ProblemSerializer(serializers.Serializer):
    """An error, as RFC 9457 describes (media type application/problem+json)."""

    type = serializers.URLField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    errors = FieldErrorSerializer(many=True, required=False)


def _problem(description: str) -> OpenApiResponse:
    return OpenApiResponse(response=ProblemSerializer, description=description)


def problems(answers: dict[int, str]) -> dict:
    """``extend_schema(responses=…)`` entries for problem answers of a view's own."""
    return {(code, PROBLEM_JSON): _problem(text) for code, text in answers.items()}


_COMMON = {
    401: "No API key, or an unknown or revoked one.",
    403: "The key lacks the scope this operation needs.",
    429: "Rate limit reached; see Retry-After.",
}
_READ = _COMMON | {
    400: "A query parameter is invalid.",
    404: "No such object in this key's organization.",
}
_WRITE = _READ | {
    400: "The body has invalid fields (listed in errors).",
    409: "Conflicts with the object's state, or the same Idempotency-Key is in flight.",
    422: "The Idempotency-Key was used with a different request.",
}
#: Merge into ``extend_schema(responses=…)``: ``PROBLEMS_READ | {200: S}``.
PROBLEMS_READ = problems(_READ)
PROBLEMS_WRITE = problems(_WRITE)

IDEMPOTENCY_KEY = OpenApiParameter(
    name="Idempotency-Key",
    # What api.idempotency accepts; any other length is a 422.
    type={"type": "string", "minLength": 1, "maxLength": IDEMPOTENCY_MAX_LENGTH},
    location=OpenApiParameter.HEADER,
    required=False,
    description="A unique string of 1 to 255 characters (a UUID is fine). A "
    "retry with the same key and body gets the first answer back; with another "
    "body, 422.",
)


class ApiAutoSchema(AutoSchema):
    """Every operation documents what the conventions add to it, so no view
    can forget: the scope it needs, the Idempotency-Key header on POST, and
    the problem answers (401, 403, 429 always; 400, 404, 409, 422 as they
    apply)."""

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(
            path, path_regex, path_prefix, method, registry
        )
        if operation is None:
            return None
        scope = required_scope(self.view, method)
        if scope:
            operation["x-required-scope"] = str(scope)
            note = f"Requires the scope `{scope}`."
            operation["description"] = (
                f"{operation.get('description', '')}\n\n{note}".strip()
            )
        return operation

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if self.method == "POST":
            parameters.append(IDEMPOTENCY_KEY)
        return parameters

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        answers = _READ if self.method in ("GET", "HEAD") else _WRITE
        if self.method in ("GET", "HEAD") and not self._is_list_view():
            answers = answers | {404: _READ[404]}
            if not self._takes_query_parameters():
                answers = {k: v for k, v in answers.items() if k != 400}
        for code, text in answers.items():
            if str(code) not in responses:
                response = self._get_response_for_code(
                    ProblemSerializer, str(code), [PROBLEM_JSON]
                )
                response["description"] = text
                responses[str(code)] = response
        return responses

    def _takes_query_parameters(self) -> bool:
        """A read of one thing can still be asked with an invalid query
        (``/consent/decisions/?patient=…``): then it answers 400 too."""
        return any(
            isinstance(p, OpenApiParameter) and p.location == OpenApiParameter.QUERY
            for p in self.get_override_parameters()
        ) or bool(self._get_filter_parameters())

"""ETags and 304 answers on the partner API's reads (GET and HEAD)."""

from django.middleware.http import ConditionalGetMiddleware

PREFIXES = ("/api/", "/fhir/")


class ApiConditionalGetMiddleware(ConditionalGetMiddleware):
    """Django's conditional GET, only for the partner API: an ETag hashed from
    the body, 304 Not Modified when ``If-None-Match`` matches."""

    def process_response(self, request, response):
        if not request.path.startswith(PREFIXES):
            return response
        return super().process_response(request, response)

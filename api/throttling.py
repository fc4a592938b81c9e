"""Per-key rate limits on the shared cache (Redis in production), so every
web process counts the same requests."""

from rest_framework.throttling import SimpleRateThrottle

from api.models import ApiKey


class ApiKeyRateThrottle(SimpleRateThrottle):
    scope = "api_key"

    def get_rate(self) -> str:
        # The rate is per key; parse_rate needs a placeholder until allow_request.
        return "600/min"

    def allow_request(self, request, view) -> bool:
        key = request.auth
        if isinstance(key, ApiKey):
            self.num_requests, self.duration = key.rate_per_minute, 60
        return super().allow_request(request, view)

    def get_cache_key(self, request, view) -> str | None:
        key = request.auth
        if not isinstance(key, ApiKey):
            return None
        return self.cache_format % {"scope": self.scope, "ident": key.pk}

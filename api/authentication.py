"""Bearer API keys for DRF."""

from dataclasses import dataclass

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from api.keys import api_key_authenticate
from api.models import ApiKey


@dataclass(frozen=True)
class ApiClient:
    """``request.user`` for an API call: the key's partner system, not a person."""

    key: ApiKey

    is_authenticated = True
    is_active = True
    is_staff = False
    is_superuser = False
    is_anonymous = False

    @property
    def pk(self) -> None:
        return None

    def __str__(self) -> str:
        return self.key.actor_label


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode(
            "latin-1", errors="replace"
        )
        if not header:
            return None
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != self.keyword.lower() or not raw.strip():
            raise exceptions.AuthenticationFailed(
                "Send the API key as `Authorization: Bearer <key>`."
            )
        key = api_key_authenticate(raw.strip())
        if key is None:
            raise exceptions.AuthenticationFailed("Unknown or revoked API key.")
        return ApiClient(key), key

    def authenticate_header(self, request) -> str:
        # Present so DRF answers 401 (not 403) without credentials.
        return f'{self.keyword} realm="api"'


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An organization's API key (`lsn_…`), "
            "created in admin or with `manage.py create_api_key`.",
        }

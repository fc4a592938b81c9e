"""Scopes per endpoint: a view names ``read_scope`` (GET, HEAD, OPTIONS) and
``write_scope`` (everything else); a view without the one a method needs
refuses it, so forgetting a scope fails closed."""

from rest_framework import permissions

from api.models import ApiKey


def required_scope(view, method: str) -> str | None:
    if method in permissions.SAFE_METHODS:
        return getattr(view, "read_scope", None)
    return getattr(view, "write_scope", None)


class HasScope(permissions.BasePermission):
    message = "This API key lacks the scope this request needs."

    def has_permission(self, request, view) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            return False
        scope = required_scope(view, request.method)
        if scope is None:
            return False
        self.message = f"This API key lacks the scope `{scope}`."
        return key.has_scope(scope)

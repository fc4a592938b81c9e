"""Channel backends, configured like Django's email backends.

``settings.MESSAGING_BACKENDS`` maps a channel to ``{"BACKEND": dotted path,
"OPTIONS": {...}}``; ``get_backend`` imports it at call time, never at import.
"""

from functools import cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from messaging.backends.base import BaseBackend


@cache
def _backend_class(path: str) -> type[BaseBackend]:
    try:
        return import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(
            f"MESSAGING_BACKENDS: cannot import backend {path!r} ({exc})."
        ) from exc


def get_backend(channel: str) -> BaseBackend:
    """A backend instance for ``channel``; raises ImproperlyConfigured when the
    channel has no backend or its path cannot be imported."""
    config = getattr(settings, "MESSAGING_BACKENDS", {}).get(channel)
    if not config or not config.get("BACKEND"):
        raise ImproperlyConfigured(
            f"MESSAGING_BACKENDS has no backend for {channel!r}."
        )
    return _backend_class(config["BACKEND"])(
        channel=channel, **config.get("OPTIONS", {})
    )

"""System checks for ``MESSAGING_BACKENDS`` (``manage.py check``).

- messaging.E001: a backend path cannot be imported.
- messaging.W001: a development backend (console, file, locmem, outbox) runs
  with DEBUG off, so nothing reaches patients.
- messaging.W002: a backend reports itself unavailable (missing credentials).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.checks import CheckMessage, register
from django.utils.module_loading import import_string

DEVELOPMENT_PROVIDERS = {"console", "file", "locmem", "outbox"}


def _configs(
    label: str, config: dict[str, Any]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """The configuration and, for a failover backend, its members'."""
    yield label, config
    options = config.get("OPTIONS") or {}
    for role in ("primary", "secondary"):
        if isinstance(options.get(role), dict):
            yield from _configs(f"{label}['OPTIONS'][{role!r}]", options[role])


def _check_backend(
    channel: str, label: str, config: dict[str, Any]
) -> list[CheckMessage]:
    path = config.get("BACKEND", "")
    try:
        backend_class = import_string(path)
    except ImportError:
        return [
            checks.Error(
                f"{label}['BACKEND'] cannot be imported: {path!r}.",
                hint="Use a dotted path to a class in messaging.backends.",
                id="messaging.E001",
            )
        ]
    provider = getattr(backend_class, "provider", "")
    messages: list[CheckMessage] = []
    if provider in DEVELOPMENT_PROVIDERS and not settings.DEBUG:
        messages.append(
            checks.Warning(
                f"{label} uses the {provider} backend with DEBUG off: "
                f"nothing sent on {channel} reaches patients.",
                hint="Configure a provider backend for production.",
                id="messaging.W001",
            )
        )
    return messages


@register("messaging")
def check_backends(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E001, W001 and W002 for every channel's backend (failover members too)."""
    from messaging.backends import get_backend

    messages: list[CheckMessage] = []
    for channel, config in getattr(settings, "MESSAGING_BACKENDS", {}).items():
        found = []
        for label, member in _configs(f"MESSAGING_BACKENDS[{channel!r}]", config):
            found.extend(_check_backend(channel, label, member))
        messages.extend(found)
        if any(m.is_serious() for m in found):
            continue
        available, why = get_backend(channel).is_available()
        if not available:
            messages.append(
                checks.Warning(
                    f"MESSAGING_BACKENDS[{channel!r}] is unavailable: {why}.",
                    hint="Set the provider's environment variables.",
                    id="messaging.W002",
                )
            )
    return messages

"""Answers one app gives another that may not import it.

Apps of one layer never import each other (docs/architecture.md, "Apps and
layers"): feedback invites the patients a campaign reached, but campaigns and
feedback are side by side. So the app that knows provides the answer here, by
name, from its AppConfig.ready(), and the app that asks looks it up; neither
imports the other, and without the provider (the app not installed) the asker
gets None and does without.

Names are ``<providing app>.<what>``; each module that asks documents the
signature it expects.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ImproperlyConfigured

_providers: dict[str, Callable[..., Any]] = {}


def provide(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """Answer ``name`` with ``func``; returns it. One provider per name."""
    if _providers.get(name, func) is not func:
        raise ImproperlyConfigured(f"{name} has a provider already")
    _providers[name] = func
    return func


def provider(name: str) -> Callable[..., Any] | None:
    """The function that answers ``name``, or None when no app provides it."""
    return _providers.get(name)

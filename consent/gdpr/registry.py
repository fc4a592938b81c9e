"""Where other apps plug their data into GDPR export and erasure.

``consent.gdpr`` knows the clinic and consent tables; every other app that
holds patient data (messaging's message bodies and deliveries, feedback's
answers…) registers an exporter and an eraser from its ``AppConfig.ready()``,
so consent never imports those apps::

    class MessagingConfig(AppConfig):
        def ready(self) -> None:
            from consent.gdpr import registry
            from messaging import gdpr

            registry.register_exporter("messages", gdpr.messages_export)
            registry.register_fhir_exporter(gdpr.communications_fhir)
            registry.register_eraser(gdpr.messages_erase)

Registering the same function twice is harmless (``ready()`` may run more than
once in tests); registering another function under a taken name is a
configuration error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from clinic.models import Patient

#: fn(patient) -> a JSON-able list or dict: one section of the JSON export.
Exporter = Callable[["Patient"], Any]
#: fn(patient) -> FHIR R4 resource dicts, each with a UUID ``id``, for the Bundle.
FhirExporter = Callable[["Patient"], list[dict[str, Any]]]
#: fn(patient) -> rows scrubbed. Runs inside the erasure's transaction, before
#: the patient row loses its identity, and must be idempotent.
Eraser = Callable[["Patient"], int]

# The sections export_patient() writes itself: no plug-in may replace them.
BUILT_IN_SECTIONS = frozenset(
    {
        "format",
        "version",
        "generated_at",
        "organization",
        "patient",
        "preferences",
        "consent_events",
        "consent_state",
        "appointments",
        "caregivers",
        "access_audit",
        "communications",
    }
)

_exporters: dict[str, Exporter] = {}
_fhir_exporters: list[FhirExporter] = []
_erasers: list[Eraser] = []


def register_exporter(name: str, fn: Exporter) -> Exporter:
    """Add ``fn``'s result to the JSON export under the key ``name``.

    Returns ``fn``. Raises ImproperlyConfigured when ``name`` is a built-in
    section or is taken by another function.
    """
    if name in BUILT_IN_SECTIONS:
        raise ImproperlyConfigured(f"GDPR export section {name!r} is built in.")
    if _exporters.get(name, fn) is not fn:
        raise ImproperlyConfigured(f"GDPR export section {name!r} is taken.")
    _exporters[name] = fn
    return fn


def register_fhir_exporter(fn: FhirExporter) -> FhirExporter:
    """Add ``fn``'s resources to the FHIR Bundle export; returns ``fn``."""
    if fn not in _fhir_exporters:
        _fhir_exporters.append(fn)
    return fn


def register_eraser(fn: Eraser) -> Eraser:
    """Run ``fn`` during every erasure; returns ``fn``."""
    if fn not in _erasers:
        _erasers.append(fn)
    return fn


def exporters() -> dict[str, Exporter]:
    """The registered JSON export sections, by name, in registration order."""
    return dict(_exporters)


def fhir_exporters() -> tuple[FhirExporter, ...]:
    return tuple(_fhir_exporters)


def erasers() -> tuple[Eraser, ...]:
    return tuple(_erasers)


def eraser_name(fn: Eraser) -> str:
    """A stable label for an eraser in reports: ``module.function``."""
    return f"{fn.__module__}.{getattr(fn, '__qualname__', repr(fn))}"

"""Reads on messages."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from clinic.branding import Branding, branding_for
from messaging.models import CODE_ALPHABET, Message


@dataclass(frozen=True)
class Verification:
    organization_name: str
    sent_at: datetime
    # The sending clinic's name, logo and colours, so a patient recognises it.
    branding: Branding


def authenticity_code_normalize(raw: str) -> str:
    return re.sub(r"[\s\-]", "", raw or "").upper()


def authenticity_code_verify(*, code: str) -> Verification | None:
    """Who sent the message carrying ``code`` and when, or None.

    Reveals nothing else: no patient, no topic, no content.
    """
    code = authenticity_code_normalize(code)
    if len(code) != 8 or any(c not in CODE_ALPHABET for c in code):
        return None
    message = (
        Message.objects.filter(
            authenticity_code=code, direction=Message.Direction.OUTBOUND
        )
        .select_related("organization")
        .only(
            "created_at",
            "organization__public_id",
            "organization__name",
            "organization__sender_name",
            "organization__accent_colour",
            "organization__logo_hash",
        )
        .first()
    )
    if message is None:
        return None
    organization = message.organization
    return Verification(
        organization.name, message.created_at, branding_for(organization)
    )


def channels_status() -> dict[str, dict]:
    """channel → its backend and whether it can send (``available``, ``why``).

    Missing credentials or an unimportable backend make a channel unavailable;
    /healthz and admin report it instead of failing silently at send time.
    """
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    from messaging.backends import get_backend

    channels: dict[str, dict] = {}
    for channel in settings.MESSAGING_BACKENDS:
        try:
            backend = get_backend(channel)
        except ImproperlyConfigured:
            channels[channel] = {"available": False, "error": "ImproperlyConfigured"}
            continue
        available, why = backend.is_available()
        cls = type(backend)
        channels[channel] = {
            "backend": f"{cls.__module__}.{cls.__qualname__}",
            "available": available,
        }
        if why:
            channels[channel]["why"] = why
    return channels

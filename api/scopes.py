"""What an API key may do. Each endpoint names the scope it needs to read and
the scope it needs to write; the permission class and the scope matrix test
read those names, so a new endpoint cannot forget one."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Scope(models.TextChoices):
    PATIENTS_READ = "patients:read", _("read patients and appointments")
    PATIENTS_WRITE = "patients:write", _("create and update patients")
    APPOINTMENTS_WRITE = "appointments:write", _("create, move and cancel appointments")
    MESSAGES_SEND = "messages:send", _("send messages and replies")
    MESSAGES_READ = "messages:read", _("read messages, deliveries and conversations")
    CONSENT_READ = "consent:read", _("read consent decisions")
    CONSENT_WRITE = "consent:write", _("record consent")
    SURVEYS_READ = "surveys:read", _("read surveys and responses")
    WEBHOOKS_MANAGE = "webhooks:manage", _("manage webhook subscriptions")


def scopes_parse(raw: str | list[str]) -> list[str]:
    """Scopes from "a,b" or a list; ValueError naming any unknown one."""
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    scopes = sorted({item.strip() for item in items if item.strip()})
    unknown = [scope for scope in scopes if scope not in Scope.values]
    if unknown:
        raise ValueError(
            f"Unknown scope(s): {', '.join(unknown)}. Known: {', '.join(Scope.values)}."
        )
    if not scopes:
        raise ValueError("Give at least one scope.")
    return scopes

"""Reads on sender identities: inbound routing, webhook secrets, what is missing."""

from __future__ import annotations

import logging

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Q, QuerySet

from clinic.models import Organization
from messaging.backends.http import provider_backends
from messaging.credentials import secret_decrypt
from messaging.models import SenderIdentity, SenderProvider

logger = logging.getLogger(__name__)

# The option holding the platform's account, per provider (settings.py).
_PLATFORM_ACCOUNT_OPTION = {
    SenderProvider.TWILIO: "account_sid",
    SenderProvider.SINCH: "service_plan_id",
}


def configured_providers() -> list[str]:
    """The sender providers (twilio, sinch) some channel's backend uses,
    failover members included."""
    return [p for p in SenderProvider.values if provider_backends(p)]


def platform_accounts(provider: str) -> set[str]:
    """The platform's own account ids for ``provider`` (from the environment):
    the account of every identity that names none."""
    option = _PLATFORM_ACCOUNT_OPTION.get(provider, "")
    return {
        b.options[option] for b in provider_backends(provider) if b.options.get(option)
    }


def inbound_organization_ids(
    *,
    provider: str,
    to_number: str,
    account_id: str = "",
    messaging_service_sid: str = "",
) -> set[int]:
    """The organizations whose ``provider`` identity an inbound message was
    sent to: by number (or Twilio Messaging Service) and, when the provider
    names it (Twilio's ``AccountSid``), by account (an identity without one is
    on the platform's). One id routes the message; none or several mean it
    belongs to no organization (the platform queue)."""
    identities = SenderIdentity.objects.receiving(
        provider=provider,
        to_number=to_number,
        messaging_service_sid=messaging_service_sid,
    )
    if account_id:
        on_account = Q(account_id=account_id)
        if account_id in platform_accounts(provider):
            on_account |= Q(account_id="")
        identities = identities.filter(on_account)
    return set(identities.values_list("organization_id", flat=True))


def identity_secrets(*, provider: str, account_id: str) -> set[str]:
    """The secrets stored by ``provider`` identities of ``account_id``
    (webhook signatures of their numbers), decrypted; those that cannot be
    read are skipped and logged (by identity id)."""
    if not account_id:
        return set()
    secrets: set[str] = set()
    rows = (
        SenderIdentity.objects.filter(provider=provider, account_id=account_id)
        .exclude(secret_encrypted="")
        .values_list("pk", "secret_encrypted")
    )
    for pk, stored in rows:
        try:
            secrets.add(secret_decrypt(stored))
        except ImproperlyConfigured:
            logger.warning("sender identity %s: stored secret unreadable", pk)
    return secrets


def organizations_without_sender(
    organizations: QuerySet[Organization],
) -> dict[str, list[Organization]]:
    """Provider → the organizations among ``organizations`` that have no
    identity for it, for each provider a channel is configured with: their
    SMS and calls through it fail (``no_sender``)."""
    missing: dict[str, list[Organization]] = {}
    for provider in configured_providers():
        lacking = list(
            organizations.exclude(sender_identities__provider=provider).order_by("name")
        )
        if lacking:
            missing[provider] = lacking
    return missing

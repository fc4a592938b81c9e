"""Who an organization's SMS and calls leave as, per provider.

A provider backend resolves the sender identities of a whole batch in one
query (``identities_load``) before any thread starts, and turns each into a
``Sender`` (number, Messaging Service, account, credentials): ``send`` then
reads only that, never the database.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from messaging.backends.base import DeliveryError

logger = logging.getLogger(__name__)

#: The error code of a delivery whose organization has no identity for the
#: provider: permanent (falls back to the next channel), reason ``no_sender``.
NO_SENDER = "no_sender"
#: A stored secret no key of CREDENTIALS_KEY decrypts: transient, retried
#: with back-off while ``manage.py check`` (messaging.E003) reports it.
SECRET_UNREADABLE = "sender_secret_unreadable"  # noqa: S105 - an error code


@dataclass(frozen=True)
class Identity:
    """What a backend needs of one SenderIdentity row, its secret decrypted
    ("" when it stores none)."""

    phone_number: str
    messaging_service_sid: str = ""
    account_id: str = ""
    secret: str = ""


@dataclass(frozen=True)
class Sender:
    """One organization's way out through one provider.

    ``account_id`` is the account requests are made for (Twilio's account
    SID, Sinch's service plan id); ``credentials`` is what authenticates them
    (the identity's own, or the platform's from the environment). Deliveries
    sharing ``credentials`` share one HTTP client.
    """

    phone_number: str
    messaging_service_sid: str = ""
    account_id: str = ""
    credentials: tuple[str, str] = ("", "")


def no_sender_error(provider: str) -> DeliveryError:
    from messaging.models import DeliveryReason

    return DeliveryError(
        f"{provider}: the organization has no sender identity for this provider",
        permanent=True,
        code=NO_SENDER,
        reason=DeliveryReason.NO_SENDER,
    )


def identities_load(
    provider: str, organization_ids: Iterable[int]
) -> dict[int, Identity | DeliveryError]:
    """Organization id → its identity for ``provider``, or the DeliveryError its
    deliveries fail with (``no_sender``, or ``sender_secret_unreadable``).
    One query whatever the number of organizations; never logs a number."""
    from django.core.exceptions import ImproperlyConfigured

    from messaging.credentials import secret_decrypt
    from messaging.models import SenderIdentity

    wanted = set(organization_ids)
    found: dict[int, Identity | DeliveryError] = dict.fromkeys(
        wanted, no_sender_error(provider)
    )
    rows = SenderIdentity.objects.filter(
        provider=provider, organization_id__in=wanted
    ).values_list(
        "organization_id",
        "phone_number",
        "messaging_service_sid",
        "account_id",
        "secret_encrypted",
    )
    for organization_id, number, service, account, stored in rows:
        try:
            secret = secret_decrypt(stored) if stored else ""
        except ImproperlyConfigured:  # no key, a bad key, or a key rotated away
            logger.warning(
                "%s sender of organization %s: stored secret unreadable",
                provider,
                organization_id,
            )
            found[organization_id] = DeliveryError(
                f"{provider}: the sender's stored secret cannot be read",
                code=SECRET_UNREADABLE,
            )
            continue
        found[organization_id] = Identity(str(number), service, account, secret)
    return found

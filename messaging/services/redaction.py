"""Erasing the secrets messages carried (``messaging.redaction``).

A delivery's copy goes with its final status, in the statement that records
it (``SECRET_ERASED`` added to the update: ``outcomes``, ``tracking``,
``sending.message_mark_read``). What is left — the message's own copy, kept
for fallbacks, and the copies of deliveries never sent — goes when the
secret expires, by a sweep every minute (``message_secrets_expire``): two
set-wise updates, whatever the number of rows.
"""

from __future__ import annotations

import datetime

from django.db import transaction
from django.utils import timezone

from messaging.models import Delivery, DeliveryReason, Message

Status = Delivery.Status
# Once a delivery is in one of these its secret is never needed again (a
# bounce after "sent" falls back with the message's copy).
SECRET_DONE = frozenset(
    {
        Status.SENT,
        Status.DELIVERED,
        Status.READ,
        Status.FAILED,
        Status.BOUNCED,
        Status.SUPPRESSED,
        Status.CANCELLED,
    }
)
SECRET_ERASED = {"secret_body": "", "secret_body_html": ""}


@transaction.atomic
def message_secrets_expire(*, now: datetime.datetime | None = None) -> int:
    """Erase the secrets of messages whose secret expired, their deliveries'
    included; deliveries still waiting to go are settled as not sent
    (``secret_expired``: a code that no longer works is not worth sending).
    Returns how many messages. Uses the partial index of messages still
    holding a secret (``messaging_msg_secret_expiry``)."""
    now = now or timezone.now()
    return message_secrets_erase(
        messages=Message.objects.filter(secret_expires_at__lte=now)
    )


@transaction.atomic
def message_secrets_erase(*, messages) -> int:
    """Erase now the secrets of ``messages`` (a queryset) and their
    deliveries: the credential was used (an invitation accepted), so no
    fallback or retry needs it. Deliveries still waiting are not sent
    (``secret_expired``). Returns how many messages held one."""
    holding = messages.exclude(secret_body="")
    deliveries = Delivery.objects.filter(message_id__in=holding.values("pk"))
    deliveries.filter(status__in=[Status.QUEUED, Status.DEFERRED]).update(
        status=Status.SUPPRESSED,
        reason=DeliveryReason.SECRET_EXPIRED,
        lease_expires_at=None,
        updated_at=timezone.now(),
        **SECRET_ERASED,
    )
    # A row being sent or of unknown outcome keeps its status: its worker,
    # or reconciliation, settles it (and does not resend: delivering).
    deliveries.exclude(secret_body="", secret_body_html="").update(**SECRET_ERASED)
    return holding.update(secret_body="")

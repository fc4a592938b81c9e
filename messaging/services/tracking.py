"""After sending: provider status callbacks, fallbacks and escalation to staff."""

from __future__ import annotations

import datetime
import logging

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext, override

from consent.limits import sends_confirm
from consent.selectors import channel_order_get
from messaging.content import (
    context_for,
)
from messaging.models import Delivery, DeliveryReason, Message
from messaging.services.redaction import SECRET_ERASED
from messaging.services.sending import (
    _contents,
    _plan_channels,
    deliveries_enqueue,
    delivery_to_other_address,
    send_request,
)
from messaging.signals import NOTIFIED_STATUSES, delivery_status_changed
from messaging.threads import thread_model

logger = logging.getLogger(__name__)
REFERENCE_PREFIX = "liaison-"  # messaging.backends.http.delivery_reference
Status = Delivery.Status


def delivery_status_update(
    *,
    provider: str,
    provider_id: str,
    status: str,
    error_code: str = "",
    client_reference: str = "",
) -> Delivery | None:
    """Apply a provider's status callback; return the delivery, or None if unknown.

    Callbacks are de-duplicated on (provider, provider id, status) and only
    ever move a delivery forward: a late "sent" after "delivered" changes
    nothing. A permanent failure falls back to the topic's next channel.
    """
    from messaging.models import STATUS_RANK, StatusCallback

    if status not in Status.values:
        raise ValueError(f"Unknown delivery status {status!r}.")
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update()
            .filter(provider=provider, provider_id=provider_id)
            .select_related("message")
            .first()
        ) or _by_reference(client_reference, provider, provider_id)
        if delivery is None:
            return None
        _, created = StatusCallback.objects.get_or_create(
            provider=provider, provider_id=provider_id, status=status
        )
        if not created or STATUS_RANK[status] <= STATUS_RANK[delivery.status]:
            return delivery
        now = timezone.now()
        # Every status a callback brings is past the send: the secret goes.
        fields: dict = {"status": status, "updated_at": now, **SECRET_ERASED}
        if status == Status.DELIVERED:
            fields["delivered_at"] = now
        if status in (Status.FAILED, Status.BOUNCED):
            fields |= {
                "error_code": error_code[:64],
                "reason": DeliveryReason.PROVIDER_REJECTED,
            }
        Delivery.objects.filter(pk=delivery.pk).update(**fields)
        for name, value in fields.items():
            setattr(delivery, name, value)
        if status in NOTIFIED_STATUSES:
            delivery_status_changed.send(sender=Delivery, deliveries=[delivery])
    if status in (Status.FAILED, Status.BOUNCED):
        delivery_fallback(delivery=delivery)
    return delivery


def _by_reference(reference: str, provider: str, provider_id: str) -> Delivery | None:
    """A delivery whose send timed out has no provider id yet; the provider's
    report names it by our client reference, which settles the unknown."""
    if not reference.startswith(REFERENCE_PREFIX):
        return None
    try:
        pk = int(reference.removeprefix(REFERENCE_PREFIX))
    except ValueError:
        return None
    delivery = (
        Delivery.objects.select_for_update()
        .filter(pk=pk, provider_id="")
        .select_related("message")
        .first()
    )
    if delivery is not None:
        Delivery.objects.filter(pk=pk).update(
            provider=provider, provider_id=provider_id
        )
        delivery.provider, delivery.provider_id = provider, provider_id
        if delivery.status in (Status.UNKNOWN, Status.SENDING):
            Delivery.objects.filter(pk=pk).update(
                status=Status.SENT,
                lease_expires_at=None,
                sent_at=timezone.now(),
                **SECRET_ERASED,
            )
            delivery.status = Status.SENT
            # Its admission was kept while it was unknown; one claimed before
            # admissions existed gets its record now.
            sends_confirm([send_request(delivery)])
    return delivery


@transaction.atomic
def delivery_fallback(*, delivery: Delivery) -> Delivery | None:
    """Plan the message on the next channel in the patient's order after a
    permanent failure; return the new delivery, or None when none is left.

    A delivery to an address other than the patient's own (a code proving a
    new contact point) has no fallback: it goes there or nowhere."""
    if delivery_to_other_address(delivery):
        return None
    # Locked until commit, where a foreign-key check would have taken FOR KEY
    # SHARE (the column has no constraint in the database): the message
    # cannot be deleted meanwhile, and two fallbacks of it wait for each
    # other. Gone already: nothing to fall back to.
    message = (
        Message.objects.select_for_update(no_key=True, of=("self",))
        .select_related("patient__organization", "topic")
        .filter(pk=delivery.message_id)
        .first()
    )
    if message is None:
        return None
    patient, topic = message.patient, message.topic
    used = set(message.deliveries.values_list("channel", flat=True))
    order = [
        c for c in channel_order_get(patient=patient, topic=topic) if c not in used
    ]
    if not order or message.read_at is not None:
        return None
    if message.secret_expires_at is not None:
        if not message.secret_body or message.secret_expires_at <= timezone.now():
            return None  # its code or link expired: nothing worth sending
        # Its secret is not in the context: the message's own text carries it.
        text, secret_text = message.body, message.secret_body
    else:
        text, secret_text = (message.body if message.free_text else ""), ""
    contents = _contents(
        patient=patient,
        topic=topic,
        context=context_for(patient, message.context),
        text=text,
        secret_text=secret_text,
        subject=message.subject,
        confidential=message.sensitivity == "confidential",
    )
    planned = list(
        _plan_channels(message, patient, topic, contents, timezone.now(), order)
    )
    Delivery.objects.bulk_create(planned)
    deliveries_enqueue([d.pk for d in planned if d.status == Status.QUEUED])
    return next((d for d in planned if d.status != Status.SUPPRESSED), None)


def _unread_subject(message: Message) -> str:
    """The staff task's subject, in the patient's language like every
    conversation subject (the patient may read the conversation)."""
    language = message.patient.preferred_language
    with override(language):
        subject = gettext("Not read yet: %(topic)s") % {
            "topic": message.topic.name(language)
        }
    return subject[:200]


def messages_escalate_due(*, now: datetime.datetime | None = None) -> int:
    """Turn unread must-acknowledge messages whose last step is due into staff
    tasks: an open conversation about the message. Returns how many."""
    now = now or timezone.now()
    count = 0
    due = Message.objects.filter(
        escalate_to_staff_at__lte=now, escalated_at__isnull=True, read_at__isnull=True
    ).select_related("patient", "topic")
    for message in due.iterator():
        with transaction.atomic():
            claimed = Message.objects.filter(
                pk=message.pk, escalated_at__isnull=True
            ).update(escalated_at=now)
            if not claimed:
                continue  # another worker took it
            Conversation = thread_model()  # noqa: N806 - the desk's model
            conversation = message.conversation or Conversation.objects.create(
                organization_id=message.organization_id,
                patient=message.patient,
                subject=_unread_subject(message),
            )
            Conversation.objects.filter(pk=conversation.pk).update(
                status=Conversation.Status.OPEN, last_message_at=now
            )
            if message.conversation_id is None:
                Message.objects.filter(pk=message.pk).update(conversation=conversation)
            count += 1
    return count

"""Email delivery events from the provider, through django-anymail's tracking
webhooks (``/anymail/<esp>/tracking/``, signature-checked by Anymail)."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from consent.errors import ConsentError
from consent.services import consent_withdraw, preferences_get
from consent.vocabulary import Channel, Purpose, Source
from messaging.models import Delivery, DeliveryStatus
from messaging.services import delivery_status_update, message_mark_read

logger = logging.getLogger(__name__)

# Anymail's normalized event types → what they mean for a delivery. "opened"
# is left out: tracking pixels are blocked or prefetched too often to mean read.
STATUSES = {
    "delivered": DeliveryStatus.DELIVERED,
    "bounced": DeliveryStatus.BOUNCED,
    "rejected": DeliveryStatus.FAILED,
    "failed": DeliveryStatus.FAILED,
}


def email_event_receive(*, event_type: str, message_id: str) -> Delivery | None:
    """Apply one tracking event to the email delivery it concerns.

    delivered/bounced/failed move the delivery forward (a bounce also marks
    the address invalid, so consent stops choosing it); a click means the
    message was read (its waiting copies are cancelled); a spam complaint
    withdraws email for the topic's purpose. Returns the delivery or None.
    """
    if not message_id:
        return None
    if event_type in STATUSES:
        delivery = delivery_status_update(
            provider="email", provider_id=message_id, status=STATUSES[event_type]
        )
        if delivery is not None and event_type == "bounced":
            _mark_address_invalid(delivery)
        return delivery
    delivery = (
        Delivery.objects.filter(provider="email", provider_id=message_id)
        .select_related("message__patient", "message__topic")
        .first()
    )
    if delivery is None:
        return None
    if event_type == "clicked":
        message_mark_read(message=delivery.message, channel=Channel.EMAIL)
    elif event_type == "complained":
        _withdraw_after_complaint(delivery)
    return delivery


def _mark_address_invalid(delivery: Delivery) -> None:
    # Only the address on record: a bounce from a former address, or from an
    # address the patient was still proving, says nothing about it.
    if delivery.address != delivery.message.patient.email:
        return
    preferences = preferences_get(patient=delivery.message.patient)
    preferences.email_invalid_at = timezone.now()
    preferences.save(update_fields=["email_invalid_at", "updated_at"])


@transaction.atomic
def _withdraw_after_complaint(delivery: Delivery) -> None:
    topic = delivery.message.topic
    if topic.purpose == Purpose.SECURITY:
        return
    try:
        consent_withdraw(
            patient=delivery.message.patient,
            purpose=topic.purpose,
            channel=Channel.EMAIL,
            source=Source.EMAIL_UNSUBSCRIBE,
            actor_label="spam complaint",
            evidence={"complaint": True, "delivery": delivery.pk},
        )
    except ConsentError:
        logger.warning("complaint on delivery %s could not be recorded", delivery.pk)


def on_tracking(sender, event, esp_name: str, **kwargs) -> None:
    """django-anymail's ``tracking`` signal receiver."""
    email_event_receive(
        event_type=event.event_type or "", message_id=event.message_id or ""
    )

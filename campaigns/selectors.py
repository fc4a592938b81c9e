"""Reads on campaigns: progress, computed set-wise from the delivery rows."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.db.models import Count, Exists, Min, OuterRef, Q

from campaigns.models import Campaign, CampaignRecipient
from messaging.models import Delivery, DeliveryStatus, Message

SENT = [DeliveryStatus.SENT, DeliveryStatus.DELIVERED, DeliveryStatus.READ]
DELIVERED = [DeliveryStatus.DELIVERED, DeliveryStatus.READ]
FAILED = [DeliveryStatus.FAILED, DeliveryStatus.BOUNCED]
WAITING = [
    DeliveryStatus.QUEUED,
    DeliveryStatus.DEFERRED,
    DeliveryStatus.SENDING,
    DeliveryStatus.UNKNOWN,
]
STOPPED = [DeliveryStatus.SUPPRESSED, DeliveryStatus.CANCELLED]


def campaign_is_finished(*, campaign_id: int) -> bool:
    """Whether nothing of the campaign is left to send: no recipient waits
    for its time and no delivery of its messages is in a state that is not
    final (queued, deferred for quiet hours or a pause, in a worker's hands,
    or being checked with the provider). Two queries, whatever the size."""
    recipients = CampaignRecipient.objects.filter(campaign_id=campaign_id)
    if recipients.filter(status=CampaignRecipient.Status.PENDING).exists():
        return False
    return not Delivery.objects.filter(
        message_id__in=recipients.filter(message__isnull=False).values("message_id"),
        status__in=WAITING,
    ).exists()


@dataclass
class Progress:
    audience: int = 0
    pending: int = 0
    planned: int = 0  # a message was made
    sent: int = 0  # some channel sent it (the inbox counts)
    delivered: int = 0
    failed: int = 0  # failed everywhere it was tried, sent nowhere
    waiting: int = 0  # not yet sent, still to go (queued, deferred, in flight)
    read: int = 0
    confirmed: int = 0  # answered: the patient wrote back since
    excluded: dict[str, int] = field(default_factory=dict)  # before planning
    stopped: dict[str, int] = field(default_factory=dict)  # planned, then not sent
    deliveries: dict[tuple[str, str], int] = field(default_factory=dict)
    # Deferred deliveries by (channel, reason): how many, and the next one's time.
    deferred: dict[tuple[str, str], tuple[int, datetime.datetime]] = field(
        default_factory=dict
    )

    @property
    def done(self) -> int:
        """Recipients whose outcome is settled, for the progress bar."""
        return self.audience - self.pending - self.waiting

    @property
    def not_sent(self) -> int:
        return sum(self.excluded.values()) + sum(self.stopped.values())


def campaign_progress(*, campaign: Campaign) -> Progress:
    """Where the campaign stands: five queries, whatever its size."""
    recipients = CampaignRecipient.objects.filter(campaign=campaign)
    progress = Progress()
    by_status: dict[str, int] = {}
    for status, reason, n in (
        recipients.values_list("status", "reason").annotate(n=Count("pk")).order_by()
    ):
        by_status[status] = by_status.get(status, 0) + n
        if status in (
            CampaignRecipient.Status.SUPPRESSED,
            CampaignRecipient.Status.CANCELLED,
        ):
            progress.excluded[reason] = progress.excluded.get(reason, 0) + n
    progress.audience = sum(by_status.values())
    progress.pending = by_status.get(CampaignRecipient.Status.PENDING, 0)
    progress.planned = by_status.get(CampaignRecipient.Status.PLANNED, 0)
    messages = Message.objects.filter(
        pk__in=recipients.filter(message__isnull=False).values("message_id")
    )
    deliveries = Delivery.objects.filter(message=OuterRef("pk"))
    answered = Message.objects.filter(
        patient=OuterRef("patient"),
        direction=Message.Direction.INBOUND,
        created_at__gte=OuterRef("created_at"),
    )
    counts = messages.annotate(
        any_sent=Exists(deliveries.filter(status__in=SENT)),
        any_delivered=Exists(deliveries.filter(status__in=DELIVERED)),
        any_failed=Exists(deliveries.filter(status__in=FAILED)),
        any_waiting=Exists(deliveries.filter(status__in=WAITING)),
        answered=Exists(answered),
    ).aggregate(
        sent=Count("pk", filter=Q(any_sent=True)),
        delivered=Count("pk", filter=Q(any_delivered=True)),
        failed=Count(
            "pk", filter=Q(any_failed=True, any_sent=False, any_waiting=False)
        ),
        waiting=Count("pk", filter=Q(any_sent=False, any_waiting=True)),
        read=Count("pk", filter=Q(read_at__isnull=False)),
        confirmed=Count("pk", filter=Q(answered=True)),
    )
    for name, value in counts.items():
        setattr(progress, name, value)
    # Planned, then stopped on every channel: by the reason of each stop.
    stopped = Delivery.objects.filter(message__in=messages, status__in=STOPPED).exclude(
        Exists(
            Delivery.objects.filter(
                message=OuterRef("message"), status__in=SENT + WAITING + FAILED
            )
        )
    )
    for reason, n in (
        stopped.values_list("reason")
        .annotate(n=Count("message", distinct=True))
        .order_by()
    ):
        progress.stopped[reason] = n
    progress.deliveries = {
        (channel, status): n
        for channel, status, n in Delivery.objects.filter(message__in=messages)
        .values_list("channel", "status")
        .annotate(n=Count("pk"))
        .order_by()
    }
    progress.deferred = {
        (channel, reason): (n, next_at)
        for channel, reason, n, next_at in Delivery.objects.filter(
            message__in=messages, status=DeliveryStatus.DEFERRED
        )
        .values_list("channel", "reason")
        .annotate(n=Count("pk"), next_at=Min("next_attempt_at"))
        .order_by()
    }
    return progress

"""Deliveries on two channels, as a campaign's batches claim them."""

from messaging.models import Delivery
from tests.support.planned import BODY, planned_deliveries


def inapp_and_sms(count: int) -> list[int]:
    """``count`` messages each with an in-app and an SMS delivery, queued; the
    ids interleaved, so every batch claims both channels as a campaign's do."""
    sms = planned_deliveries(channel="sms", count=count)
    messages = Delivery.objects.filter(pk__in=sms).order_by("pk")
    inapp = Delivery.objects.bulk_create(
        Delivery(message_id=m, channel="inapp", body=BODY)
        for m in messages.values_list("message_id", flat=True)
    )
    return [pk for pair in zip([d.pk for d in inapp], sms, strict=True) for pk in pair]


def channel_statuses(ids: list[int]) -> dict[tuple[str, str], int]:
    rows = Delivery.objects.filter(pk__in=ids).values_list("channel", "status")
    counts: dict[tuple[str, str], int] = {}
    for row in rows:
        counts[row] = counts.get(row, 0) + 1
    return counts

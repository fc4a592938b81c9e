"""The partner API's data classes for the nightly purge (core.retention)."""

from core.retention import retention_register


def register() -> None:
    from api.models import WebhookDelivery

    retention_register(
        "webhook_deliveries",
        description="Outbound webhook deliveries and their last response, once "
        "delivered or given up.",
        default_days=90,
        expired=lambda before: WebhookDelivery.objects.exclude(
            status=WebhookDelivery.Status.PENDING
        ).filter(created_at__lt=before),
    )

"""The pipeline's data classes for the nightly purge (core.retention)."""

from core.retention import retention_register


def register() -> None:
    from messaging.models import Message, OutboxEntry, StatusCallback
    from messaging.receipts.models import InboundReceipt

    retention_register(
        "security_messages",
        description="Sign-in codes and new-device alerts, with their deliveries.",
        default_days=90,
        expired=lambda before: Message.objects.filter(
            topic__purpose="security", created_at__lt=before
        ),
    )
    retention_register(
        "provider_callbacks",
        description="Providers' status callbacks kept to ignore repeats.",
        default_days=30,
        expired=lambda before: StatusCallback.objects.filter(received_at__lt=before),
    )
    retention_register(
        "inbound_receipts",
        description="Inbound SMS and keypad events kept to ignore repeats.",
        default_days=30,
        expired=lambda before: InboundReceipt.objects.filter(received_at__lt=before),
    )
    retention_register(
        "outbox",
        description="Messages the outbox backend kept instead of sending (demo, staging).",
        default_days=30,
        expired=lambda before: OutboxEntry.objects.filter(created_at__lt=before),
    )

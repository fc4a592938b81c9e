"""Stores what would be sent in the database, where staff read it in admin.

The default of ``make run``: a newcomer sees SMS, emails and calls land
without any provider account. Codes and links (``messaging.redaction``) are
stored as sent only with ``DEBUG`` on, so a newcomer can sign in; otherwise
masked like everywhere else staff look.
"""

from django.conf import settings

from messaging.backends.base import BaseBackend, SendResult


class Backend(BaseBackend):
    provider = "outbox"

    def send_many(self, deliveries) -> list[SendResult]:
        from messaging.models import OutboxEntry

        entries = OutboxEntry.objects.bulk_create(
            OutboxEntry(
                organization_id=d.message.organization_id,
                delivery=d,
                channel=self.channel,
                to=d.address,
                subject=d.subject,
                body=d.body if settings.DEBUG else getattr(d, "shown_body", d.body),
            )
            for d in deliveries
        )
        return [
            SendResult(d.pk, self.provider, f"outbox-{entry.pk}")
            for d, entry in zip(deliveries, entries, strict=True)
        ]

    def reconcile(self, deliveries) -> dict[int, str | None]:
        from messaging.models import OutboxEntry

        found = dict(
            OutboxEntry.objects.filter(delivery__in=deliveries).values_list(
                "delivery_id", "pk"
            )
        )
        return {
            d.pk: f"outbox-{found[d.pk]}" if d.pk in found else None for d in deliveries
        }

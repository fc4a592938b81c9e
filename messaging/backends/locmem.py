"""Keeps what would be sent in ``outbox``, for tests (like Django's locmem mail)."""

import uuid

from messaging.backends.base import BaseBackend

outbox: list[dict] = []


class Backend(BaseBackend):
    provider = "locmem"

    def send(self, delivery) -> str:
        provider_id = uuid.uuid4().hex
        outbox.append(
            {
                "channel": self.channel,
                "to": delivery.address,
                "subject": delivery.subject,
                "body": delivery.body,
                "body_html": delivery.body_html,
                "provider_id": provider_id,
                "delivery_id": delivery.pk,
            }
        )
        return provider_id

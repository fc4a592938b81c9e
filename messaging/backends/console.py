"""Writes what would be sent to standard output (ids only in logs, text on screen)."""

import sys
import uuid

from messaging.backends.base import BaseBackend


class Backend(BaseBackend):
    provider = "console"

    def send(self, delivery) -> str:
        provider_id = uuid.uuid4().hex
        sys.stdout.write(
            f"--- {self.channel} to {delivery.address} ({provider_id})\n"
            f"{delivery.subject + chr(10) if delivery.subject else ''}{delivery.body}\n---\n"
        )
        sys.stdout.flush()
        return provider_id

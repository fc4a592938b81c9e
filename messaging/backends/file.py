"""Appends what would be sent to a file per channel in OPTIONS["path"]."""

import json
import uuid
from pathlib import Path

from messaging.backends.base import BaseBackend


class Backend(BaseBackend):
    provider = "file"

    def send(self, delivery) -> str:
        provider_id = uuid.uuid4().hex
        directory = Path(self.options.get("path", "outbox"))
        directory.mkdir(parents=True, exist_ok=True)
        record = {
            "id": provider_id,
            "to": delivery.address,
            "subject": delivery.subject,
            "body": delivery.body,
        }
        with (directory / f"{self.channel}.jsonl").open("a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
        return provider_id

"""The secure inbox: the message is already stored; tell open pages about it."""

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from messaging.backends.base import BaseBackend, SendResult


def patient_group(patient_id: int) -> str:
    return f"patient-{patient_id}"


class Backend(BaseBackend):
    provider = "inapp"

    def send_many(self, deliveries) -> list[SendResult]:
        layer = get_channel_layer()
        for delivery in deliveries:
            if layer is not None:
                # A notification only (ids, no content): pages re-read the inbox.
                async_to_sync(layer.group_send)(
                    patient_group(delivery.message.patient_id),
                    {
                        "type": "inbox.message",
                        "message": str(delivery.message.public_id),
                    },
                )
        return [SendResult(d.pk, self.provider, f"inapp-{d.pk}") for d in deliveries]

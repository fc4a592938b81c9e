"""The secure inbox: the message is already stored; tell open pages about it.

The inbox row is the delivery: the live notice is best effort
(``core.live.notify``). With Redis unreachable the deliveries are recorded
delivered all the same, and pages re-read the inbox when their socket
reconnects or, meanwhile, when the socket's own re-reading sees a change.
"""

from core.live import notify
from messaging.backends.base import BaseBackend, SendResult


def patient_group(patient_id: int) -> str:
    return f"patient-{patient_id}"


class Backend(BaseBackend):
    provider = "inapp"

    def send_many(self, deliveries) -> list[SendResult]:
        # A notification only (ids, no content): pages re-read the inbox.
        notify(
            [
                (
                    patient_group(d.message.patient_id),
                    {"type": "inbox.message", "message": str(d.message.public_id)},
                )
                for d in deliveries
            ]
        )
        return [SendResult(d.pk, self.provider, f"inapp-{d.pk}") for d in deliveries]

"""The send pipeline, in three steps (see docs/messaging.md).

``message_send`` writes the Message and every Delivery (queued, deferred or
suppressed with its reason) in one transaction and, after commit, queues the
delivery task with ids only. ``deliveries_process`` claims due rows (each
claim fenced by its attempt number, ``claims``), asks consent again, sends
through the channel's backend in groups confirmed just before their calls, and
records each group's outcomes as they come back.
Status callbacks, fallbacks and escalations follow in ``tracking``.
"""

from messaging.services.bulk import message_send_many
from messaging.services.delivering import deliveries_process, deliveries_requeue_due
from messaging.services.replies import message_reply
from messaging.services.sending import (
    deliveries_enqueue,
    message_mark_read,
    message_send,
)
from messaging.services.tracking import (
    delivery_fallback,
    delivery_status_update,
    messages_escalate_due,
)

__all__ = [
    "deliveries_enqueue",
    "deliveries_process",
    "deliveries_requeue_due",
    "delivery_fallback",
    "delivery_status_update",
    "message_mark_read",
    "message_reply",
    "message_send",
    "message_send_many",
    "messages_escalate_due",
]

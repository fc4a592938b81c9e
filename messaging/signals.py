"""Signals messaging sends so that apps built on it (the partner API's
webhooks) react to its changes without messaging knowing them (DESIGN.md:
nothing in a domain app imports ``api``)."""

from django.dispatch import Signal

from messaging.models import DeliveryStatus

# Sent when deliveries reach sent, delivered, failed, bounced or suppressed
# through a worker (``deliveries_process``, once per batch, with every
# delivery of the batch that got there) or a provider's status callback
# (``delivery_status_update``, inside its transaction), with ``deliveries``
# (list of Delivery, ``message`` loaded, ``status`` and ``reason`` current).
# Planning (``message_send``, the bulk form) sends nothing: its statuses are
# the API's answer to the send itself.
delivery_status_changed = Signal()

# Sent inside the transaction that stored a patient's message (an SMS that is
# not a keyword, an answer in the portal), with ``message`` (inbound, saved)
# and ``channel``. A provider's retry of the same SMS sends nothing again.
message_received = Signal()

# The statuses ``delivery_status_changed`` reports.
NOTIFIED_STATUSES = frozenset(
    {
        DeliveryStatus.SENT,
        DeliveryStatus.DELIVERED,
        DeliveryStatus.FAILED,
        DeliveryStatus.BOUNCED,
        DeliveryStatus.SUPPRESSED,
    }
)

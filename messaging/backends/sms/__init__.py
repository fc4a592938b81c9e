"""SMS backends on providers' REST APIs: ``twilio``, ``sinch``, and
``failover`` (a primary provider with a secondary for transient failures).

Development backends (console, file, locmem, outbox) live one level up and
serve every channel.
"""

from messaging.backends.base import DeliveryError


def check_sms_length(body: str, *, provider: str, limit: int) -> None:
    """Refuse a body longer than the provider accepts before calling it.

    Raises DeliveryError(permanent=True, code="too_long"): retrying cannot
    shorten it, and the pipeline falls back to the next channel. The admin
    preview warns long before (segments).
    """
    if len(body) > limit:
        raise DeliveryError(
            f"{provider}: SMS too long", permanent=True, code="too_long"
        )

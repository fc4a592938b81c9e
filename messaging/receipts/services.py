"""One effect per provider event: the receipt is written first, in the
transaction that holds every effect of the event.

Providers retry webhooks (a slow answer, a lost connection) and may deliver
one event twice at the same instant. The receipt's unique index on (provider,
provider message id) decides which copy acts: the first inserts it and goes
on; any other fails on the index and does nothing, replies nothing. On
PostgreSQL an insert racing an uncommitted one waits for it: it fails if the
first commits, and goes ahead if the first rolled back (its effects with it),
so an event is applied exactly once however often it arrives, and not lost
when its first handling failed (the provider's next retry does it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import IntegrityError, transaction

from messaging.models import InboundReceipt

logger = logging.getLogger(__name__)


@contextmanager
def inbound_once(
    *, provider: str, provider_message_id: str
) -> Iterator[InboundReceipt | None]:
    """A transaction for every effect of one provider event, its receipt
    written first. Yields the receipt (set its ``organization`` and
    ``outcome``: saved when the block ends), or None when the event was
    already taken in: the caller then does nothing and replies nothing.
    An exception in the block rolls everything back, the receipt included.
    """
    with transaction.atomic():
        try:
            with transaction.atomic():
                receipt = InboundReceipt.objects.create(
                    provider=provider, provider_message_id=provider_message_id
                )
        except IntegrityError:
            logger.info(
                "inbound %s:%s already taken in: ignored", provider, provider_message_id
            )
            yield None
            return
        yield receipt
        receipt.save(update_fields=["organization", "outcome"])

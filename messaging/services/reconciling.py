"""Reconciling: asking providers about sends whose outcome was never learnt.

A call that timed out after the request left, or a worker that died holding
its lease, leaves a delivery whose send may or may not have happened. Before
anything is sent again, the provider is asked (Sinch by our client
reference, Twilio by listing messages to that number in the window); what it
has is recorded as sent, what it certainly has not may be sent again, and
"not listed yet" while it may still be recording the send is not read as
"not sent".
"""

from __future__ import annotations

import datetime
import logging
import time
from collections import defaultdict

from consent.limits import sends_confirm
from messaging.backends.base import SendResult
from messaging.models import Delivery, DeliveryReason
from messaging.services.claims import TaskClock, atomic_step
from messaging.services.outcomes import (
    FENCED,
    RECHECK_UNKNOWN,
    backend_or_fail,
    by_channel,
    delivery_finish,
    provider_lists_by,
    reconcile_grace_of,
    result_record,
)
from messaging.services.sending import send_request

logger = logging.getLogger(__name__)
# A provider that still cannot tell after a day will not: stop asking.
UNKNOWN_GIVE_UP = datetime.timedelta(hours=24)
Status = Delivery.Status


def deliveries_reconcile(
    uncertain: list[Delivery], now, counts: dict, *, clock: TaskClock
) -> set[int]:
    """Ask each provider about sends whose outcome we never learnt.

    What the provider has is recorded as sent; what it certainly has not may
    be sent again; what it could not tell (the lookup failed), or does not
    list yet while it may still be recording it (``provider_lists_by``), stays
    ``unknown`` and is asked again later. A backend that raises could not
    tell. Returns the ids not to send now.
    """
    settled: set[int] = set()
    for channel, deliveries in by_channel(uncertain).items():
        backend = backend_or_fail(channel, deliveries)
        if backend is None:
            settled |= {d.pk for d in deliveries}
            continue
        if time.monotonic() >= clock.sends_until(backend):
            # No time left to ask: released as unknown at the end of the task.
            settled |= {d.pk for d in deliveries}
            continue
        try:
            answers = backend.reconcile(deliveries)
        except Exception as exc:  # a lookup that fails cannot tell
            logger.error("%s reconcile raised %s", channel, type(exc).__name__)
            answers = {}
        found, kept = clock.db(
            atomic_step(
                lambda deliveries=deliveries, backend=backend, answers=answers: (
                    answers_record(deliveries, backend, answers, now)
                )
            )
        )
        settled |= kept
        for status, n in found.items():
            counts[status] += n
    return settled


def answers_record(
    deliveries: list[Delivery], backend, answers: dict[int, str | None], now
) -> tuple[dict[str, int], set[int]]:
    """Record a provider's answers; return the counts and the ids settled."""
    counts: dict[str, int] = defaultdict(int)
    settled: set[int] = set()
    grace = reconcile_grace_of(backend)
    for delivery in deliveries:
        listed_at = provider_lists_by(delivery, grace)
        if delivery.pk not in answers:
            status = unknown_until(delivery, now, now + RECHECK_UNKNOWN)
        elif answers[delivery.pk] is None and listed_at and now < listed_at:
            # Not listed yet: the provider may still be recording it.
            status = unknown_until(delivery, now, listed_at)
        elif answers[delivery.pk]:
            result = SendResult(
                delivery.pk,
                backend.reconciled_provider(delivery.pk),
                answers[delivery.pk],
            )
            status = result_record(delivery, result, now)
            if status != FENCED:
                sends_confirm([send_request(delivery)], at=now)
        else:
            continue  # the provider certainly never had it: sent again now
        settled.add(delivery.pk)
        counts[status] += 1
    return counts, settled


def unknown_until(delivery: Delivery, now, ask_at) -> str:
    """Keep an outcome unknown until ``ask_at``; after a day staff decide."""
    if now - delivery.created_at > UNKNOWN_GIVE_UP:
        # Staff decide: the delivery log says why it stopped here.
        if delivery_finish(
            delivery, Status.FAILED, reason=DeliveryReason.UNKNOWN_OUTCOME
        ):
            return Status.FAILED
        return FENCED
    if delivery_finish(delivery, Status.UNKNOWN, next_attempt_at=ask_at):
        return Status.UNKNOWN
    return FENCED

"""Outcomes of claimed deliveries, written only while this worker holds them.

Every write is fenced (``held``): conditioned on the row's id, the claim's
attempt number (its fencing token) and status ``sending``, so a worker whose
lease expired while it was stalled records nothing over the worker that
claimed the row after it. Admissions (``consent.limits``) of sends that did
not leave are given back here.
"""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from consent.limits import SendRef, sends_release
from consent.vocabulary import Channel
from core.backoff import jittered
from messaging.backends import get_backend
from messaging.backends.base import DeliveryError, SendResult
from messaging.models import Delivery, DeliveryReason
from messaging.services.claims import CONFIRMATION_SECONDS, fenced_update
from messaging.services.redaction import SECRET_DONE, SECRET_ERASED
from messaging.services.tracking import delivery_fallback

logger = logging.getLogger(__name__)
# An outcome nobody could look up is asked about again this much later.
RECHECK_UNKNOWN = datetime.timedelta(seconds=60)
# The count of results dropped because the row was no longer this worker's.
FENCED = "fenced"
Status = Delivery.Status


def held_row(delivery: Delivery):
    """The row, if this worker still holds it: same attempt, still sending."""
    return Delivery.objects.filter(
        pk=delivery.pk, attempts=delivery.attempts, status=Status.SENDING
    )


def admissions_release(deliveries: Iterable[Delivery]) -> None:
    """Give back the admissions of deliveries that did not leave."""
    sends_release(
        SendRef(d.message.patient_id, str(d.message.public_id), d.channel)
        for d in deliveries
    )


def delivery_finish(delivery: Delivery, status: str, **fields) -> bool:
    """Settle a claimed delivery if this worker still holds it; return whether
    it did (another worker took it after this one's lease expired: not)."""
    fields |= {"status": status, "lease_expires_at": None, "updated_at": timezone.now()}
    if status in SECRET_DONE:
        fields |= SECRET_ERASED
    if not held_row(delivery).update(**fields):
        return False
    for name, value in fields.items():
        setattr(delivery, name, value)
    return True


def backoff(attempts: int, retry_after: float | None) -> datetime.timedelta:
    """Exponential back-off with full jitter, at least what the provider asked."""
    return jittered(attempts, first=30, ceiling=3600, at_least=retry_after)


def by_channel(deliveries: list[Delivery]) -> dict[str, list[Delivery]]:
    grouped: dict[str, list[Delivery]] = defaultdict(list)
    for delivery in deliveries:
        grouped[delivery.channel].append(delivery)
    return grouped


def backend_or_fail(channel: str, deliveries: list[Delivery]):
    try:
        return get_backend(channel)
    except ImproperlyConfigured:
        logger.exception("no backend for channel %s", channel)
        failed = [
            d
            for d in deliveries
            if delivery_finish(d, Status.FAILED, reason=DeliveryReason.NO_BACKEND)
        ]
        admissions_release(failed)  # only rows still this worker's: the key is shared
        return None


def reconcile_grace_of(backend) -> float:
    return float(getattr(backend, "reconcile_grace", 0.0) or 0.0)


def provider_lists_by(delivery: Delivery, grace: float) -> datetime.datetime | None:
    """Until when the provider may not list yet what the delivery's last
    call sent: the call started at most CONFIRMATION_SECONDS after
    ``attempted_at``, and the provider lists it ``grace`` seconds later at
    worst. None when nothing was ever called or the provider lists at once."""
    if not grace or delivery.attempted_at is None:
        return None
    return delivery.attempted_at + datetime.timedelta(
        seconds=CONFIRMATION_SECONDS + grace
    )


def results_record(
    outcomes: list[tuple[Delivery, SendResult]], now, *, grace: float = 0.0
) -> dict[str, int]:
    """Record a group of send results on the rows this worker still holds: a
    result that comes back after another worker took the delivery is
    dropped (counted ``fenced``); that worker reconciles it with the provider.

    Successes in one statement per status whatever the group's size (a
    ``bulk_update`` builds a CASE per row and field and costs more than the
    sends), failures one by one. ``grace``: the backend's
    ``reconcile_grace``, for when to ask about an unknown outcome."""
    counts: dict[str, int] = defaultdict(int)
    sent: dict[str, list[tuple[Delivery, SendResult]]] = defaultdict(list)
    for delivery, result in outcomes:
        if not result.ok:
            counts[failure_record(delivery, result, now, grace=grace)] += 1
            continue
        status = Status.DELIVERED if delivery.channel == Channel.INAPP else Status.SENT
        sent[status].append((delivery, result))
    for status, group in sent.items():
        results = {d.pk: r for d, r in group}
        kept = fenced_update(
            [d for d, _ in group],
            {
                "status": status,
                "sent_at": now,
                "delivered_at": now if status == Status.DELIVERED else None,
                "lease_expires_at": None,
                "updated_at": now,
                **SECRET_ERASED,
            },
            per_row=("provider", "provider_id"),
            values=lambda d, results=results: (
                results[d.pk].provider,
                results[d.pk].provider_id,
            ),
        )
        for delivery, result in group:
            if delivery.pk not in kept:
                counts[FENCED] += 1
                continue
            delivery.status = status
            delivery.provider, delivery.provider_id = (
                result.provider,
                result.provider_id,
            )
            counts[status] += 1
    return counts


def result_record(delivery: Delivery, result: SendResult, now) -> str:
    return next(iter(results_record([(delivery, result)], now)))


def failure_record(
    delivery: Delivery, result: SendResult, now, *, grace: float = 0.0
) -> str:
    error: DeliveryError = result.error
    logger.warning(
        "delivery %s failed: %s", delivery.pk, error.code or type(error).__name__
    )
    if error.unknown:
        # Reconciled with the provider once it can tell (provider_lists_by), by the
        # periodic job. Its admission is kept: it may have left.
        listed_at = provider_lists_by(delivery, grace)
        ask_at = max(listed_at, now) if listed_at else now + RECHECK_UNKNOWN
        if not delivery_finish(
            delivery,
            Status.UNKNOWN,
            provider=result.provider,
            error_code=error.code,
            next_attempt_at=ask_at,
        ):
            return FENCED
        return Status.UNKNOWN
    # It did not leave: once settled, the caps count it no more (a row
    # another worker took keeps its admission: the key is that worker's too).
    if error.permanent or delivery.attempts >= settings.MESSAGING_MAX_ATTEMPTS:
        reason = error.reason or (
            DeliveryReason.PROVIDER_REJECTED
            if error.permanent
            else DeliveryReason.RETRIES_EXHAUSTED
        )
        if not delivery_finish(
            delivery, Status.FAILED, reason=reason, error_code=error.code
        ):
            return FENCED
        admissions_release([delivery])
        delivery_fallback(delivery=delivery)
        return Status.FAILED
    if not delivery_finish(
        delivery,
        Status.QUEUED,
        error_code=error.code,
        next_attempt_at=now + backoff(delivery.attempts, error.retry_after),
    ):
        return FENCED
    admissions_release([delivery])
    return "retry"

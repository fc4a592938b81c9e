"""Delivering: claim due rows with a lease, ask consent again, send, record."""

from __future__ import annotations

import datetime
import logging
import random
from collections import defaultdict
from collections.abc import Callable, Iterable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from consent.limits import SendRef, sends_admit, sends_confirm, sends_release
from consent.policy import Decision
from consent.unsubscribe import unsubscribe_headers
from consent.vocabulary import Channel, Outcome, Purpose
from messaging.backends import get_backend
from messaging.backends.base import DeliveryError, SendResult
from messaging.models import Delivery, DeliveryReason, Message
from messaging.services.sending import (
    address_decision,
    deliveries_enqueue,
    delivery_to_other_address,
    send_request,
)
from messaging.services.tracking import delivery_fallback
from messaging.signals import NOTIFIED_STATUSES, delivery_status_changed

logger = logging.getLogger(__name__)
# A provider that still cannot tell after a day will not: stop asking.
UNKNOWN_GIVE_UP = datetime.timedelta(hours=24)
Status = Delivery.Status

# Message origin → check(origin_refs, now) → {origin_ref: Decision} for the
# messages no longer wanted (a cancelled or paused campaign): asked at claim
# time, so the sender's own state wins like a STOP does. Registered by the
# sending app (``CampaignsConfig.ready``); messaging imports none of them.
StillWanted = Callable[[set[str], datetime.datetime], dict[str, Decision]]
_still_wanted: dict[str, StillWanted] = {}


def register_still_wanted(origin: str, check: StillWanted) -> StillWanted:
    """Ask ``check`` at claim time whether messages of ``origin`` are still wanted.

    ``check`` returns, for the ``origin_ref`` values it refuses, a suppress
    (with reason) or defer (until, reason) Decision; refs it omits go ahead.
    """
    _still_wanted[origin] = check
    return check


def _not_wanted(claimed: list[Delivery], now) -> dict[int, Decision]:
    """delivery id → Decision for the claimed deliveries their sender withdrew."""
    refs: dict[str, set[str]] = defaultdict(set)
    for delivery in claimed:
        message = delivery.message
        if message.origin in _still_wanted and message.origin_ref:
            refs[message.origin].add(message.origin_ref)
    refused: dict[str, Decision] = {}
    for origin, origin_refs in refs.items():
        refused |= _still_wanted[origin](origin_refs, now)
    return {
        d.pk: refused[d.message.origin_ref]
        for d in claimed
        if d.message.origin in refs and d.message.origin_ref in refused
    }


def _claim(ids: Iterable[int], now: datetime.datetime) -> list[Delivery]:
    """Take due rows for this worker with a lease; rows another worker holds
    are skipped, so no delivery is sent twice at the same time."""
    with transaction.atomic():
        due = Delivery.objects.filter(pk__in=list(ids)).due(now)
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True, of=("self",))
        claimed = list(
            due.select_related("message__patient__organization", "message__topic")
        )
        if claimed:
            Delivery.objects.filter(pk__in=[d.pk for d in claimed]).update(
                status=Status.SENDING,
                lease_expires_at=now
                + datetime.timedelta(seconds=settings.MESSAGING_LEASE_SECONDS),
                attempts=F("attempts") + 1,
            )
    return claimed


def _recheck(claimed: list[Delivery], now) -> list[Delivery]:
    """Ask consent again at send time, and admit under the patients' locks
    (``consent.limits.sends_admit``): a STOP that landed since planning wins,
    and caps and the fatigue budget count every send admitted before, by any
    worker, and earlier in this batch. Returns the deliveries to send now."""
    sendable: list[Delivery] = []
    withdrawn = _not_wanted(claimed, now)
    requests = []
    for delivery in claimed:
        if delivery.pk in withdrawn:
            _apply_decision(delivery, withdrawn[delivery.pk], sendable)
            continue
        decided = None
        if delivery_to_other_address(delivery):
            message = delivery.message
            # A code for an address being proven: judged on that address.
            decided = address_decision(
                patient=message.patient,
                topic=message.topic,
                channel=delivery.channel,
                address=delivery.address,
                at=now,
            )
        requests.append(send_request(delivery, decided))
    with transaction.atomic():
        decisions = sends_admit(requests, at=now)
        for delivery in claimed:
            if delivery.pk in decisions:
                _apply_decision(delivery, decisions[delivery.pk], sendable)
    return sendable


def _release(deliveries: Iterable[Delivery]) -> None:
    """Give back the admissions of deliveries that did not leave."""
    sends_release(
        SendRef(d.message.patient_id, str(d.message.public_id), d.channel)
        for d in deliveries
    )


def _apply_decision(
    delivery: Delivery, decision: Decision, sendable: list[Delivery]
) -> None:
    if decision.outcome == Outcome.ALLOW:
        sendable.append(delivery)
    elif decision.outcome == Outcome.DEFER:
        _finish(
            delivery,
            Status.DEFERRED,
            reason=decision.reason,
            next_attempt_at=decision.until,
        )
    else:
        _finish(delivery, Status.SUPPRESSED, reason=decision.reason)


def _finish(delivery: Delivery, status: str, **fields) -> None:
    fields |= {"status": status, "lease_expires_at": None, "updated_at": timezone.now()}
    Delivery.objects.filter(pk=delivery.pk).update(**fields)
    for name, value in fields.items():
        setattr(delivery, name, value)


def _backoff(attempts: int, retry_after: float | None) -> datetime.timedelta:
    """Exponential back-off with full jitter, at least what the provider asked."""
    ceiling = min(3600, 30 * 2 ** max(0, attempts - 1))
    seconds = random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not security
    return datetime.timedelta(seconds=max(seconds, retry_after or 0))


def deliveries_process(delivery_ids: list[int]) -> dict[str, int]:
    """Claim, re-check, send and record a batch of deliveries; return counts.

    Safe to run twice or concurrently for the same ids: only due rows are
    claimed, and each claim holds a lease. Rows whose earlier attempt ended
    without an answer are first reconciled with the provider, never blindly
    resent. Sends ``messaging.signals.delivery_status_changed`` once, with
    the deliveries that reached a notified status.
    """
    now = timezone.now()
    claimed = _claim(delivery_ids, now)
    counts: dict[str, int] = defaultdict(int)
    uncertain = [d for d in claimed if d.status in (Status.SENDING, Status.UNKNOWN)]
    settled = _reconcile(uncertain, now, counts)
    sendable = _recheck([d for d in claimed if d.pk not in settled], now)
    for channel, deliveries in _by_channel(sendable).items():
        backend = _backend_or_fail(channel, deliveries)
        if backend is None:
            continue
        merged = _merge_same_day_reminders(deliveries) if channel == Channel.SMS else {}
        if channel == Channel.EMAIL:
            _add_unsubscribe_headers(deliveries)
        by_id = {d.pk: d for d in deliveries}
        outcomes = []
        for result in backend.send_many(deliveries):
            delivery = by_id[result.delivery_id]
            outcomes.append((delivery, result))
            outcomes += [(rider, result) for rider in merged.get(delivery.pk, [])]
        for status, n in _record_many(outcomes, now).items():
            counts[status] += n
    changed = [d for d in claimed if d.status in NOTIFIED_STATUSES]
    if changed:
        # Once per batch: receivers look up what they need set-wise.
        delivery_status_changed.send(sender=Delivery, deliveries=changed)
    return dict(counts)


def _add_unsubscribe_headers(deliveries: list[Delivery]) -> None:
    """RFC 8058 one-click unsubscribe on every mail but care and security:
    care mail is part of care (its inbox copy stays), codes must not be
    unsubscribed from."""
    for delivery in deliveries:
        topic = delivery.message.topic
        if topic.purpose in (Purpose.MARKETING, Purpose.FEEDBACK):
            delivery.email_headers = unsubscribe_headers(
                patient=delivery.message.patient, topic=topic
            )


def _merge_same_day_reminders(deliveries: list[Delivery]) -> dict[int, list[Delivery]]:
    """Send one SMS per patient for the reminders of one batch that fall due
    together; the others ride along and are recorded as sent with it.

    Removes the riders from ``deliveries``; returns carrier id → riders.
    """
    by_patient: dict[int, list[Delivery]] = defaultdict(list)
    for delivery in deliveries:
        if (
            delivery.message.origin == Message.Origin.REMINDER
            and delivery.message.sensitivity == "public"
        ):
            by_patient[delivery.message.patient_id].append(delivery)
    riders: dict[int, list[Delivery]] = {}
    for group in by_patient.values():
        if len(group) < 2:
            continue
        carrier, *others = group
        carrier.body = "\n".join(d.body for d in group)
        Delivery.objects.filter(pk=carrier.pk).update(body=carrier.body)
        for other in others:
            deliveries.remove(other)
            other.reason = DeliveryReason.MERGED
            Delivery.objects.filter(pk=other.pk).update(reason=DeliveryReason.MERGED)
        riders[carrier.pk] = others
    return riders


def _by_channel(deliveries: list[Delivery]) -> dict[str, list[Delivery]]:
    grouped: dict[str, list[Delivery]] = defaultdict(list)
    for delivery in deliveries:
        grouped[delivery.channel].append(delivery)
    return grouped


def _backend_or_fail(channel: str, deliveries: list[Delivery]):
    try:
        return get_backend(channel)
    except ImproperlyConfigured:
        logger.exception("no backend for channel %s", channel)
        _release(deliveries)
        for delivery in deliveries:
            _finish(delivery, Status.FAILED, reason=DeliveryReason.NO_BACKEND)
        return None


def _reconcile(uncertain: list[Delivery], now, counts: dict) -> set[int]:
    """Ask each provider about sends whose outcome we never learnt.

    What the provider has is recorded as sent; what it certainly has not may
    be sent again; what it could not tell (the lookup failed) stays
    ``unknown`` and is asked again later. Returns the ids not to send now.
    """
    settled: set[int] = set()
    for channel, deliveries in _by_channel(uncertain).items():
        backend = _backend_or_fail(channel, deliveries)
        if backend is None:
            settled |= {d.pk for d in deliveries}
            continue
        answers = backend.reconcile(deliveries)
        for delivery in deliveries:
            if delivery.pk not in answers:
                settled.add(delivery.pk)
                if now - delivery.created_at > UNKNOWN_GIVE_UP:
                    # Staff decide: the delivery log says why it stopped here.
                    _finish(
                        delivery, Status.FAILED, reason=DeliveryReason.UNKNOWN_OUTCOME
                    )
                    counts[Status.FAILED] += 1
                    continue
                _finish(
                    delivery,
                    Status.UNKNOWN,
                    next_attempt_at=now + datetime.timedelta(seconds=60),
                )
                counts[Status.UNKNOWN] += 1
            elif answers[delivery.pk]:
                sends_confirm([send_request(delivery)], at=now)
                result = SendResult(
                    delivery.pk,
                    backend.reconciled_provider(delivery.pk),
                    answers[delivery.pk],
                )
                counts[_record(delivery, result, now)] += 1
                settled.add(delivery.pk)
    return settled


def _record_many(outcomes: list[tuple[Delivery, SendResult]], now) -> dict[str, int]:
    """Record a batch of send results: successes in a few statements whatever
    the batch size (a bulk ``bulk_update`` builds a CASE per row and field and
    costs more than the sends), failures one by one."""
    counts: dict[str, int] = defaultdict(int)
    sent: dict[str, list[tuple[Delivery, SendResult]]] = defaultdict(list)
    for delivery, result in outcomes:
        if not result.ok:
            counts[_record_failure(delivery, result, now)] += 1
            continue
        status = Status.DELIVERED if delivery.channel == Channel.INAPP else Status.SENT
        sent[status].append((delivery, result))
        counts[status] += 1
    for status, group in sent.items():
        Delivery.objects.filter(pk__in=[d.pk for d, _ in group]).update(
            status=status,
            provider=group[0][1].provider,
            sent_at=now,
            delivered_at=now if status == Status.DELIVERED else None,
            lease_expires_at=None,
            updated_at=now,
        )
        table = connection.ops.quote_name(Delivery._meta.db_table)
        with connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {table} SET provider_id = %s WHERE id = %s",  # noqa: S608 - our own table name
                [(result.provider_id, delivery.pk) for delivery, result in group],
            )
        for delivery, result in group:
            delivery.status, delivery.provider_id = status, result.provider_id
    return counts


def _record(delivery: Delivery, result: SendResult, now) -> str:
    return next(iter(_record_many([(delivery, result)], now)))


def _record_failure(delivery: Delivery, result: SendResult, now) -> str:
    error: DeliveryError = result.error
    logger.warning(
        "delivery %s failed: %s", delivery.pk, error.code or type(error).__name__
    )
    if error.unknown:
        # Reconciled with the provider a minute later, by the periodic job.
        # Its admission is kept: it may have left.
        _finish(
            delivery,
            Status.UNKNOWN,
            provider=result.provider,
            error_code=error.code,
            next_attempt_at=now + datetime.timedelta(seconds=60),
        )
        return Status.UNKNOWN
    _release([delivery])  # it did not leave: the caps count it no more
    if error.permanent or delivery.attempts >= settings.MESSAGING_MAX_ATTEMPTS:
        reason = error.reason or (
            DeliveryReason.PROVIDER_REJECTED
            if error.permanent
            else DeliveryReason.RETRIES_EXHAUSTED
        )
        _finish(delivery, Status.FAILED, reason=reason, error_code=error.code)
        delivery_fallback(delivery=delivery)
        return Status.FAILED
    _finish(
        delivery,
        Status.QUEUED,
        error_code=error.code,
        next_attempt_at=now + _backoff(delivery.attempts, error.retry_after),
    )
    return "retry"


def deliveries_requeue_due(*, now: datetime.datetime | None = None) -> int:
    """Queue what is due: deferred rows whose time came, retries, unknown
    outcomes to reconcile, expired leases. Returns how many were queued.

    A queued row due less than a minute ago is left to the task queued with
    it; a second task would find nothing to claim, but costs a round trip.
    """
    now = now or timezone.now()
    fresh = Q(
        status=Status.QUEUED, next_attempt_at__gt=now - datetime.timedelta(seconds=60)
    )
    ids = list(
        Delivery.objects.due(now)
        .exclude(fresh)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:10_000]
    )
    with transaction.atomic():
        deliveries_enqueue(ids)
    return len(ids)

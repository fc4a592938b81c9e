"""Delivering: claim due rows with a lease and a fencing token, reconcile
what an earlier attempt may have sent, ask consent again, send in small
groups (each confirmed in the database just before its calls), and record
each group as it comes back. ``messaging.services.claims`` holds the fencing.
"""

from __future__ import annotations

import datetime
import logging
import random
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, InterfaceError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from consent.limits import SendRef, sends_admit, sends_confirm, sends_release
from consent.policy import Decision
from consent.unsubscribe import unsubscribe_headers
from consent.vocabulary import Channel, Outcome, Purpose
from messaging.backends import get_backend
from messaging.backends.base import NOT_ADMITTED, DeliveryError, SendResult
from messaging.models import Delivery, DeliveryReason, Message
from messaging.services.claims import (
    CONFIRMATION_SECONDS,
    Claims,
    Heartbeat,
    TaskClock,
    atomic_step,
    close_quietly,
    fenced_update,
)
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
# An outcome nobody could look up is asked about again this much later.
RECHECK_UNKNOWN = datetime.timedelta(seconds=60)
# Sends confirmed together (one statement) and recorded together (one
# statement for the successes). A fast provider fills a group in a fraction
# of a second; with a slow one a group ends when its confirmation lapses
# (claims.CONFIRMATION_SECONDS), so outcomes are recorded seconds after
# their calls, never at the end of the batch.
SEND_GROUP = 100
# The count of results dropped because the row was no longer this worker's.
FENCED = "fenced"
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
    are skipped, so no delivery is sent twice at the same time.

    Each claim's ``attempts + 1`` is its fencing token: the instances
    returned carry it (``attempts``), and keep the status they had before
    (an unknown outcome is reconciled first)."""
    lease_until = now + datetime.timedelta(seconds=settings.MESSAGING_LEASE_SECONDS)
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
                lease_expires_at=lease_until,
                attempts=F("attempts") + 1,
            )
    for delivery in claimed:
        delivery.attempts += 1
        delivery.lease_expires_at = lease_until
    return claimed


def _held(delivery: Delivery):
    """The row, if this worker still holds it: same attempt, still sending."""
    return Delivery.objects.filter(
        pk=delivery.pk, attempts=delivery.attempts, status=Status.SENDING
    )


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


def _finish(delivery: Delivery, status: str, **fields) -> bool:
    """Settle a claimed delivery if this worker still holds it; return whether
    it did (another worker took it after this one's lease expired: not)."""
    fields |= {"status": status, "lease_expires_at": None, "updated_at": timezone.now()}
    if not _held(delivery).update(**fields):
        return False
    for name, value in fields.items():
        setattr(delivery, name, value)
    return True


def _backoff(attempts: int, retry_after: float | None) -> datetime.timedelta:
    """Exponential back-off with full jitter, at least what the provider asked."""
    ceiling = min(3600, 30 * 2 ** max(0, attempts - 1))
    seconds = random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not security
    return datetime.timedelta(seconds=max(seconds, retry_after or 0))


def deliveries_process(delivery_ids: list[int]) -> dict[str, int]:
    """Claim, re-check, send and record a batch of deliveries; return counts.

    Safe to run twice or concurrently for the same ids: only due rows are
    claimed, each claim holds a lease and a fencing token, and nothing is
    sent or recorded for a row another worker has claimed since. Rows whose
    earlier attempt ended without an answer are first reconciled with the
    provider, never blindly resent. Outcomes are recorded group by group as
    they come back; what was not sent before the task's time limit is given
    back (``_give_back``). One channel's backend raising settles that
    channel's deliveries only. Sends
    ``messaging.signals.delivery_status_changed`` once, with the deliveries
    that reached a notified status.
    """
    clock = TaskClock()
    now = timezone.now()
    claimed = clock.db(lambda: _claim(delivery_ids, now))
    if not claimed:
        return {}
    uncertain = {d.pk for d in claimed if d.status in (Status.SENDING, Status.UNKNOWN)}
    for delivery in claimed:
        delivery.status = Status.SENDING
    claims = Claims(claimed, uncertain=uncertain)
    counts: dict[str, int] = defaultdict(int)
    try:
        with Heartbeat(claims, until=clock.deadline):
            settled = _reconcile(
                [d for d in claimed if d.pk in uncertain], now, counts, clock=clock
            )
            sendable = clock.db(
                lambda: _recheck([d for d in claimed if d.pk not in settled], now)
            )
            for channel, deliveries in _by_channel(sendable).items():
                _send_channel(channel, deliveries, claims, clock, counts)
    except BaseException:
        _give_back(claims, counts, after_error=True)
        raise
    _give_back(claims, counts)
    changed = [d for d in claimed if d.status in NOTIFIED_STATUSES]
    if changed:
        # Once per batch: receivers look up what they need set-wise.
        delivery_status_changed.send(sender=Delivery, deliveries=changed)
    return dict(counts)


def _send_channel(
    channel: str,
    deliveries: list[Delivery],
    claims: Claims,
    clock: TaskClock,
    counts: dict[str, int],
) -> None:
    """Send one channel's deliveries group by group: confirm the group's
    tokens, call the backend (its gate admits each call), record the
    outcomes. A group the gate refused in part (its confirmation lapsed) is
    confirmed again; nothing starts after ``clock.sends_until(backend)``.

    A backend that raises settles its own deliveries: those it was let call
    the provider for become ``unknown`` (it may have sent them: reconciled),
    the others are retried with back-off. Other channels carry on.
    """
    backend = _backend_or_fail(channel, deliveries)
    if backend is None:
        return
    merged = _merge_same_day_reminders(deliveries) if channel == Channel.SMS else {}
    if channel == Channel.EMAIL:
        _add_unsubscribe_headers(deliveries)
    backend.gate = claims
    until = clock.sends_until(backend)
    grace = _grace(backend)
    pending = deque(deliveries)
    with _session(backend):
        while pending and time.monotonic() < until:
            group = [pending.popleft() for _ in range(min(SEND_GROUP, len(pending)))]
            held = clock.db(lambda group=group: claims.confirm(group, until=until))
            outcomes, refused, raised = _send_group(backend, held, claims)
            pending.extendleft(reversed(refused))
            if raised:
                outcomes += [(d, _backend_error(d, backend, claims)) for d in pending]
                pending.clear()
            outcomes += [
                (rider, result)
                for delivery, result in list(outcomes)
                for rider in merged.get(delivery.pk, [])
            ]
            for status, n in _record_group(outcomes, claims, clock, grace).items():
                counts[status] += n
    # What is still pending was not started in time: _give_back returns it.


def _send_group(
    backend, held: list[Delivery], claims: Claims
) -> tuple[list[tuple[Delivery, SendResult]], list[Delivery], bool]:
    """Call the backend for one confirmed group; return the outcomes, the
    deliveries the gate refused (not called: to confirm again), and whether
    the backend raised."""
    if not held:
        return [], [], False
    try:
        results = {r.delivery_id: r for r in backend.send_many(held)}
        raised = False
    except Exception as exc:  # one backend must not stop the others
        # The type only: a backend's message may quote an address.
        logger.error(
            "%s backend raised %s on %s deliveries",
            backend.channel,
            type(exc).__name__,
            len(held),
        )
        results, raised = {}, True
    outcomes: list[tuple[Delivery, SendResult]] = []
    refused: list[Delivery] = []
    for delivery in held:
        result = results.get(delivery.pk)
        if result is None:
            result = _backend_error(delivery, backend, claims)
        elif result.error is not None and result.error.code == NOT_ADMITTED:
            refused.append(delivery)
            continue
        outcomes.append((delivery, result))
    return outcomes, refused, raised


def _backend_error(delivery: Delivery, backend, claims: Claims) -> SendResult:
    """The outcome of a delivery its backend gave no result for (it raised):
    unknown if the gate let it call the provider, else a transient failure."""
    error = DeliveryError(
        "the backend failed",
        unknown=delivery.pk in claims.admitted,
        code="backend_error",
    )
    return SendResult(delivery.pk, getattr(backend, "provider", ""), "", error)


def _record_group(
    outcomes: list[tuple[Delivery, SendResult]],
    claims: Claims,
    clock: TaskClock,
    grace: float,
) -> dict[str, int]:
    """Record one group's outcomes at once, again if the database connection
    was lost meanwhile (fenced writes make that safe). A group of successes
    is one statement; failures write several rows (and give admissions
    back), in one transaction."""
    if not outcomes:
        return {}
    ids = [d.pk for d, _ in outcomes]

    def record() -> dict[str, int]:
        return _record_many(outcomes, timezone.now(), grace=grace)

    claims.recording(ids)
    try:
        counts = clock.db(
            record if all(r.ok for _, r in outcomes) else atomic_step(record)
        )
    finally:
        claims.recording(ids, done=True)
    # Still "sending" after recording: another worker's now (fenced).
    claims.lose(d.pk for d, _ in outcomes if d.status == Status.SENDING)
    return counts


def _give_back(claims: Claims, counts: dict[str, int], *, after_error: bool = False):
    """Give back what this task still holds (its time ran out, or it failed):
    what may have reached the provider (let through the gate, or claimed
    with an unknown outcome) as ``unknown``, due for reconciliation now; the
    rest as ``queued``, in a new task at once. Best effort: with the database
    gone, the leases expire instead."""
    held = claims.held()
    if not held:
        return
    maybe = claims.admitted | claims.uncertain
    maybe_sent = [d for d in held if d.pk in maybe]
    not_sent = [d for d in held if d.pk not in maybe]
    if after_error and connection.errors_occurred and not connection.in_atomic_block:
        close_quietly()  # a lost connection is replaced, not reused
    now = timezone.now()
    released = {"next_attempt_at": now, "lease_expires_at": None, "updated_at": now}
    try:
        with transaction.atomic():
            unknown = fenced_update(maybe_sent, released | {"status": Status.UNKNOWN})
            queued = fenced_update(not_sent, released | {"status": Status.QUEUED})
            _release(d for d in not_sent if d.pk in queued)  # their admissions
            deliveries_enqueue(sorted(queued))
    except (DatabaseError, InterfaceError):
        logger.warning("%s deliveries left to their leases", len(held))
        return
    for delivery in held:
        if delivery.pk in unknown or delivery.pk in queued:
            delivery.status = (
                Status.UNKNOWN if delivery.pk in unknown else Status.QUEUED
            )
    if unknown or queued:
        counts["released"] += len(unknown) + len(queued)


def _session(backend) -> AbstractContextManager:
    """One provider client for every group of the channel, if it has one."""
    session = getattr(backend, "session", None)
    return session() if callable(session) else nullcontext()


def _grace(backend) -> float:
    return float(getattr(backend, "reconcile_grace", 0.0) or 0.0)


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
        _held(carrier).update(body=carrier.body)
        for other in others:
            deliveries.remove(other)
            other.reason = DeliveryReason.MERGED
            _held(other).update(reason=DeliveryReason.MERGED)
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
        failed = [
            d
            for d in deliveries
            if _finish(d, Status.FAILED, reason=DeliveryReason.NO_BACKEND)
        ]
        _release(failed)  # only rows still this worker's: the key is shared
        return None


def _reconcile(
    uncertain: list[Delivery], now, counts: dict, *, clock: TaskClock
) -> set[int]:
    """Ask each provider about sends whose outcome we never learnt.

    What the provider has is recorded as sent; what it certainly has not may
    be sent again; what it could not tell (the lookup failed), or does not
    list yet while it may still be recording it (``_listed_by``), stays
    ``unknown`` and is asked again later. A backend that raises could not
    tell. Returns the ids not to send now.
    """
    settled: set[int] = set()
    for channel, deliveries in _by_channel(uncertain).items():
        backend = _backend_or_fail(channel, deliveries)
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
                    _reconciled(deliveries, backend, answers, now)
                )
            )
        )
        settled |= kept
        for status, n in found.items():
            counts[status] += n
    return settled


def _reconciled(
    deliveries: list[Delivery], backend, answers: dict[int, str | None], now
) -> tuple[dict[str, int], set[int]]:
    """Record a provider's answers; return the counts and the ids settled."""
    counts: dict[str, int] = defaultdict(int)
    settled: set[int] = set()
    grace = _grace(backend)
    for delivery in deliveries:
        listed_by = _listed_by(delivery, grace)
        if delivery.pk not in answers:
            status = _unknown_until(delivery, now, now + RECHECK_UNKNOWN)
        elif answers[delivery.pk] is None and listed_by and now < listed_by:
            # Not listed yet: the provider may still be recording it.
            status = _unknown_until(delivery, now, listed_by)
        elif answers[delivery.pk]:
            result = SendResult(
                delivery.pk,
                backend.reconciled_provider(delivery.pk),
                answers[delivery.pk],
            )
            status = _record(delivery, result, now)
            if status != FENCED:
                sends_confirm([send_request(delivery)], at=now)
        else:
            continue  # the provider certainly never had it: sent again now
        settled.add(delivery.pk)
        counts[status] += 1
    return counts, settled


def _unknown_until(delivery: Delivery, now, ask_at) -> str:
    """Keep an outcome unknown until ``ask_at``; after a day staff decide."""
    if now - delivery.created_at > UNKNOWN_GIVE_UP:
        # Staff decide: the delivery log says why it stopped here.
        if _finish(delivery, Status.FAILED, reason=DeliveryReason.UNKNOWN_OUTCOME):
            return Status.FAILED
        return FENCED
    if _finish(delivery, Status.UNKNOWN, next_attempt_at=ask_at):
        return Status.UNKNOWN
    return FENCED


def _listed_by(delivery: Delivery, grace: float) -> datetime.datetime | None:
    """Until when the provider may not list yet what the delivery's last
    call sent: the call started at most CONFIRMATION_SECONDS after
    ``attempted_at``, and the provider lists it ``grace`` seconds later at
    worst. None when nothing was ever called or the provider lists at once."""
    if not grace or delivery.attempted_at is None:
        return None
    return delivery.attempted_at + datetime.timedelta(
        seconds=CONFIRMATION_SECONDS + grace
    )


def _record_many(
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
            counts[_record_failure(delivery, result, now, grace=grace)] += 1
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


def _record(delivery: Delivery, result: SendResult, now) -> str:
    return next(iter(_record_many([(delivery, result)], now)))


def _record_failure(
    delivery: Delivery, result: SendResult, now, *, grace: float = 0.0
) -> str:
    error: DeliveryError = result.error
    logger.warning(
        "delivery %s failed: %s", delivery.pk, error.code or type(error).__name__
    )
    if error.unknown:
        # Reconciled with the provider once it can tell (_listed_by), by the
        # periodic job. Its admission is kept: it may have left.
        listed_by = _listed_by(delivery, grace)
        ask_at = max(listed_by, now) if listed_by else now + RECHECK_UNKNOWN
        if not _finish(
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
        if not _finish(delivery, Status.FAILED, reason=reason, error_code=error.code):
            return FENCED
        _release([delivery])
        delivery_fallback(delivery=delivery)
        return Status.FAILED
    if not _finish(
        delivery,
        Status.QUEUED,
        error_code=error.code,
        next_attempt_at=now + _backoff(delivery.attempts, error.retry_after),
    ):
        return FENCED
    _release([delivery])
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

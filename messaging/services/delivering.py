"""Delivering: claim due rows with a lease and a fencing token, reconcile
what an earlier attempt may have sent, ask consent again, send in small
groups (each confirmed in the database just before its calls), and record
each group as it comes back. ``messaging.services.claims`` holds the fencing.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext

from django.conf import settings
from django.db import DatabaseError, InterfaceError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from consent.limits import sends_admit
from consent.policy import Decision
from consent.unsubscribe import unsubscribe_headers
from consent.vocabulary import Channel, Outcome, Purpose
from messaging.backends.base import NOT_ADMITTED, DeliveryError, SendResult
from messaging.models import Delivery, DeliveryReason, Message
from messaging.redaction import reveal
from messaging.services.claims import (
    Claims,
    Heartbeat,
    TaskClock,
    atomic_step,
    close_quietly,
    fenced_update,
)
from messaging.services.outcomes import (
    admissions_release,
    backend_or_fail,
    by_channel,
    delivery_finish,
    held_row,
    reconcile_grace_of,
    results_record,
)
from messaging.services.reconciling import deliveries_reconcile
from messaging.services.sending import (
    address_decision,
    deliveries_enqueue,
    delivery_to_other_address,
    send_request,
)
from messaging.signals import NOTIFIED_STATUSES, delivery_status_changed

logger = logging.getLogger(__name__)
# Sends confirmed together (one statement) and recorded together (one
# statement for the successes). A fast provider fills a group in a fraction
# of a second; with a slow one a group ends when its confirmation lapses
# (claims.CONFIRMATION_SECONDS), so outcomes are recorded seconds after
# their calls, never at the end of the batch.
SEND_GROUP = 100
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
        if _secret_expired(delivery, now):
            delivery_finish(
                delivery, Status.SUPPRESSED, reason=DeliveryReason.SECRET_EXPIRED
            )
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


def _secret_expired(delivery: Delivery, now: datetime.datetime) -> bool:
    """A code or link that no longer works is not sent (a retry, a deferred
    row, an unknown outcome found unsent after the secret expired)."""
    expires_at = delivery.message.secret_expires_at
    return (
        expires_at is not None
        and expires_at <= now
        and delivery.channel != Channel.INAPP
    )


def _apply_decision(
    delivery: Delivery, decision: Decision, sendable: list[Delivery]
) -> None:
    if decision.outcome == Outcome.ALLOW:
        sendable.append(delivery)
    elif decision.outcome == Outcome.DEFER:
        delivery_finish(
            delivery,
            Status.DEFERRED,
            reason=decision.reason,
            next_attempt_at=decision.until,
        )
    else:
        delivery_finish(delivery, Status.SUPPRESSED, reason=decision.reason)


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
    reveal(claimed)
    uncertain = {d.pk for d in claimed if d.status in (Status.SENDING, Status.UNKNOWN)}
    for delivery in claimed:
        delivery.status = Status.SENDING
    claims = Claims(claimed, uncertain=uncertain)
    counts: dict[str, int] = defaultdict(int)
    try:
        with Heartbeat(claims, until=clock.deadline):
            settled = deliveries_reconcile(
                [d for d in claimed if d.pk in uncertain], now, counts, clock=clock
            )
            sendable = clock.db(
                lambda: _recheck([d for d in claimed if d.pk not in settled], now)
            )
            for channel, deliveries in by_channel(sendable).items():
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
    backend = backend_or_fail(channel, deliveries)
    if backend is None:
        return
    merged = _merge_same_day_reminders(deliveries) if channel == Channel.SMS else {}
    if channel == Channel.EMAIL:
        _add_unsubscribe_headers(deliveries)
    backend.gate = claims
    until = clock.sends_until(backend)
    grace = reconcile_grace_of(backend)
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
        return results_record(outcomes, timezone.now(), grace=grace)

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
            admissions_release(
                d for d in not_sent if d.pk in queued
            )  # their admissions
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
        held_row(carrier).update(body=carrier.body)
        for other in others:
            deliveries.remove(other)
            other.reason = DeliveryReason.MERGED
            held_row(other).update(reason=DeliveryReason.MERGED)
        riders[carrier.pk] = others
    return riders


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

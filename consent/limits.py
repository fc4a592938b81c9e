"""Admitting sends: consent, caps and the fatigue budget decided under the
patient's lock, and the send records they count written in the same breath.

Planning decides from the records already written, but a message can wait
(the worker was down, quiet hours, a retry) and many can become due together:
five campaign SMS planned while no worker ran were all sent in one batch with
a cap of two a week, because the batch was judged on records read before it,
and two workers at the same moment could race the same way. So the last word
is said here, when a worker is about to hand deliveries to a provider:

1. the patients of the batch are locked (a PostgreSQL advisory transaction
   lock per patient, taken in id order so two workers cannot deadlock; SQLite
   runs one writing transaction at a time already);
2. their send records are read *after* the lock, so they include what every
   other worker admitted and committed;
3. each patient's requests are decided highest class first, then oldest
   first, each counting what this batch has just admitted;
4. a ``SendRecord`` is written for each admitted request, in the caller's
   transaction: it commits with the delivery's claim, before any provider call.

A record is a reservation until the send's outcome is known: a send that
failed (or was never attempted) gives it back with ``sends_release``; a sent
or possibly sent one keeps it. This module is the only writer of
``SendRecord``.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from consent import history
from consent.facts import PageFacts
from consent.models import SendRecord, Topic
from consent.policy import Decision
from consent.vocabulary import Outcome

# The first key of the two-integer advisory lock: "sndr".
LOCK_NAMESPACE = 0x736E6472
# The second key is an int4: patients whose ids collide modulo this only
# wait for each other, which is harmless.
_LOCK_MODULUS = 2**31 - 1


@dataclass(frozen=True, slots=True)
class SendRequest:
    """One delivery a worker wants to send now.

    ``ref`` is the caller's id for it (the delivery's); ``message_key``
    identifies its message (its other channels do not count against it);
    ``planned_at`` orders a patient's requests of one class (oldest first).
    ``decision``: consent's answer when the caller judged it itself (a code
    to an address being proven); the request is then only recorded."""

    ref: int
    patient_id: int
    topic: Topic
    channel: str
    message_key: str
    content_hash: str = ""
    planned_at: datetime.datetime | None = None
    decision: Decision | None = None


@dataclass(frozen=True, slots=True)
class SendRef:
    """What identifies an admitted send's record: its message on a channel."""

    patient_id: int
    message_key: str
    channel: str


def patients_lock(patient_ids: Iterable[int]) -> None:
    """Hold each patient's sending lock until the transaction ends.

    Raises RuntimeError outside a transaction (the lock would end at once)."""
    if not connection.in_atomic_block:
        raise RuntimeError("patients_lock needs a transaction.")
    if connection.vendor != "postgresql":
        return  # SQLite: one writing transaction at a time already
    keys = sorted({pk % _LOCK_MODULUS for pk in patient_ids})
    if not keys:
        return
    with connection.cursor() as cursor:
        # The subquery fixes the order the locks are taken in.
        cursor.execute(
            "SELECT count(pg_advisory_xact_lock(%s, key)) "
            "FROM (SELECT unnest(%s::int[]) AS key ORDER BY 1) AS ordered",
            [LOCK_NAMESPACE, keys],
        )


def sends_admit(
    requests: Sequence[SendRequest], *, at: datetime.datetime | None = None
) -> dict[int, Decision]:
    """Decide each request at ``at`` and reserve the admitted ones: ref →
    Decision (allow, defer with its moment, or suppress with its reason).

    Joins the caller's transaction (or makes one): the reservations
    (``SendRecord`` rows) commit or roll back with it, and the requests'
    patients stay locked until it ends.
    """
    at = at or timezone.now()
    if not requests:
        return {}
    with transaction.atomic(savepoint=False):
        patients_lock(r.patient_id for r in requests)
        facts = _facts(requests, at)
        sent, held = _records(requests, facts, at)
        decisions: dict[int, Decision] = {}
        admitted: list[SendRecord] = []
        for request in sorted(requests, key=_order):
            decision = request.decision or _decide(request, facts, sent, at)
            decisions[request.ref] = decision
            key = (request.patient_id, request.message_key, request.channel)
            if decision.outcome == Outcome.ALLOW and key not in held:
                # One record per message and channel: a delivery admitted
                # again (its earlier holder stalled, a retry) keeps the one
                # it has.
                held.add(key)
                record = _record(request, at)
                admitted.append(record)
                sent[request.patient_id].append(
                    history.Sent(
                        record.message_key,
                        record.purpose,
                        record.priority,
                        record.content_hash,
                        record.sent_at,
                    )
                )
        SendRecord.objects.bulk_create(admitted)
    return decisions


def sends_release(refs: Iterable[SendRef]) -> int:
    """Give back the reservations of sends that did not leave (a failure, a
    send never attempted); returns how many records were removed."""
    condition = Q()
    for ref in refs:
        condition |= Q(
            patient_id=ref.patient_id, message_key=ref.message_key, channel=ref.channel
        )
    if not condition:
        return 0
    deleted, _ = SendRecord.objects.filter(condition).delete()
    return deleted


def sends_confirm(
    requests: Sequence[SendRequest], *, at: datetime.datetime | None = None
) -> int:
    """Record sends found to have left whose admission is missing (a
    delivery claimed before admissions existed, settled by its provider's
    report or a reconciliation); returns how many records were written.
    A send already admitted keeps its one record."""
    at = at or timezone.now()
    condition = Q()
    for request in requests:
        condition |= Q(
            patient_id=request.patient_id,
            message_key=request.message_key,
            channel=request.channel,
        )
    if not condition:
        return 0
    known = set(
        SendRecord.objects.filter(condition).values_list(
            "patient_id", "message_key", "channel"
        )
    )
    missing = [
        _record(r, at)
        for r in requests
        if (r.patient_id, r.message_key, r.channel) not in known
    ]
    SendRecord.objects.bulk_create(missing)
    return len(missing)


def send_record(
    *,
    patient,
    topic: Topic,
    channel: str,
    message_key: str,
    content_hash: str = "",
    sent_at: datetime.datetime | None = None,
) -> SendRecord:
    """Record a send without deciding it (imports and tests of history)."""
    request = SendRequest(
        ref=0,
        patient_id=patient.pk,
        topic=topic,
        channel=channel,
        message_key=message_key,
        content_hash=content_hash,
    )
    record = _record(request, sent_at or timezone.now())
    record.save()
    return record


def _order(request: SendRequest) -> tuple:
    planned = request.planned_at or datetime.datetime.min.replace(tzinfo=datetime.UTC)
    return (
        request.patient_id,
        request.topic.priority,
        planned,
        request.message_key,
        request.ref,
    )


def _facts(
    requests: Sequence[SendRequest], at: datetime.datetime
) -> dict[int, PageFacts]:
    """topic id → consent's facts about its patients on its channels (the
    history is counted here, not read there)."""
    by_topic: dict[int, list[SendRequest]] = defaultdict(list)
    for request in requests:
        if request.decision is None:
            by_topic[request.topic.pk].append(request)
    return {
        topic_id: PageFacts(
            sorted({r.patient_id for r in group}),
            group[0].topic,
            {r.channel for r in group},
            at,
            read_history=False,
        )
        for topic_id, group in by_topic.items()
    }


def _records(
    requests: Sequence[SendRequest],
    facts: dict[int, PageFacts],
    at: datetime.datetime,
) -> tuple[dict[int, list[history.Sent]], set[tuple[int, str, str]]]:
    """(patient id → their send records any request's rules look at, the
    (patient id, message key, channel) those records hold), read after the
    lock, so with every admission committed before it."""
    sent: dict[int, list[history.Sent]] = defaultdict(list)
    held: set[tuple[int, str, str]] = set()
    if not facts:
        return sent, held
    days = max(f.rules.history_days for f in facts.values())
    rows = (
        SendRecord.objects.filter(
            patient_id__in=sorted({r.patient_id for r in requests}),
            sent_at__gt=at - datetime.timedelta(days=days),
            sent_at__lte=at,
        )
        .order_by()
        .values_list("patient_id", "channel", *history.SENT_FIELDS)
    )
    for patient_id, channel, *fields in rows:
        record = history.Sent(*fields)
        sent[patient_id].append(record)
        held.add((patient_id, record.message_key, channel))
    return sent, held


def _decide(
    request: SendRequest,
    facts: dict[int, PageFacts],
    sent: dict[int, list[history.Sent]],
    at: datetime.datetime,
) -> Decision:
    page = facts[request.topic.pk]
    counted = history.count(
        page.rules,
        at,
        sent[request.patient_id],
        exclude={request.message_key},
        content_hash=request.content_hash,
    )
    return page.decide_with(request.patient_id, request.channel, counted)


def _record(request: SendRequest, at: datetime.datetime) -> SendRecord:
    topic = request.topic
    return SendRecord(
        patient_id=request.patient_id,
        topic_id=topic.pk,
        purpose=topic.purpose,
        urgent=topic.urgent,
        priority=topic.priority,
        channel=request.channel,
        message_key=request.message_key,
        content_hash=request.content_hash,
        sent_at=at,
    )

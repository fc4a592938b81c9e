"""The send pipeline: plan a message into deliveries, then deliver them.

``message_send`` writes the Message and every Delivery (queued, deferred or
suppressed with its reason) in one transaction and, after commit, queues the
delivery task with ids only. ``deliveries_process`` claims due rows, asks
consent again, sends through the channel's backend and records the outcome.
"""

from __future__ import annotations

import datetime
import logging
import random
from collections import defaultdict
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from clinic.models import Patient
from consent.models import SendRecord, Topic
from consent.selectors import channel_order_get, decide, iter_decisions, topic_resolve
from consent.vocabulary import Channel, Outcome
from messaging.backends import get_backend
from messaging.backends.base import DeliveryError, SendResult
from messaging.models import Conversation, Delivery, DeliveryReason, Message, Template
from messaging.planning import (
    Content,
    MessageContentError,
    confidential_notice,
    content_hash,
    context_for,
    delivery_address,
    pick_templates,
    render_template,
)

logger = logging.getLogger(__name__)
Status = Delivery.Status


def _contents(
    *,
    patient: Patient,
    topic: Topic,
    context: dict,
    text: str,
    subject: str,
    confidential: bool,
) -> dict[str, Content]:
    """channel → what it carries, before confidentiality notices are applied."""
    if text:
        return {c: Content(subject, text, "", confidential) for c in Channel.values}
    templates = pick_templates(
        list(Template.objects.filter(topic=topic)),
        patient.preferred_language,
        patient.organization.default_language,
    )
    if not templates:
        raise MessageContentError(
            f"Topic {topic.slug!r} has no template and no text was given."
        )
    contents = {
        channel: render_template(t, context) for channel, t in templates.items()
    }
    if Channel.INAPP not in contents:
        # The inbox always keeps the full message: take the richest other variant.
        source = contents.get(Channel.EMAIL) or next(iter(contents.values()))
        contents[Channel.INAPP] = Content(
            source.subject, source.body, "", source.confidential
        )
    return contents


@transaction.atomic
def message_send(
    *,
    patient: Patient,
    topic: Topic | str,
    origin: str,
    context: dict | None = None,
    text: str = "",
    subject: str = "",
    confidential: bool = False,
    idempotency_key: str = "",
    origin_ref: str = "",
    sender=None,
    conversation: Conversation | None = None,
    at: datetime.datetime | None = None,
) -> Message:
    """Plan one message to one patient and queue its deliveries.

    Returns the Message; with an ``idempotency_key`` already used by this
    organization, returns that first Message and sends nothing more. Raises
    ConsentError (unknown topic, other organization) or MessageContentError
    (unknown variable, no template). Writes Message + Delivery rows in one
    transaction; the delivery task is queued after commit.
    """
    if idempotency_key:
        existing = Message.objects.filter(
            organization_id=patient.organization_id, idempotency_key=idempotency_key
        ).first()
        if existing is not None:
            return existing
    topic = topic_resolve(patient=patient, topic=topic)
    at = at or timezone.now()
    values = context_for(patient, context)
    contents = _contents(
        patient=patient,
        topic=topic,
        context=values,
        text=text,
        subject=subject,
        confidential=confidential,
    )
    inbox = contents[Channel.INAPP]
    message = Message(
        organization_id=patient.organization_id,
        patient=patient,
        topic=topic,
        conversation=conversation,
        sender=sender,
        origin=origin,
        origin_ref=origin_ref[:200],
        idempotency_key=idempotency_key,
        sensitivity="confidential" if inbox.confidential else "public",
        language=patient.preferred_language,
        subject=inbox.subject,
        body=inbox.body,
        content_hash=content_hash(topic.pk, inbox.subject, inbox.body),
        context=context or {},
        free_text=bool(text),
        created_at=at,
    )
    try:
        with transaction.atomic():
            message.save()
    except IntegrityError:
        if idempotency_key:  # a concurrent call with the same key won the race
            return Message.objects.get(
                organization_id=patient.organization_id, idempotency_key=idempotency_key
            )
        raise
    deliveries = _plan(message, patient, topic, contents, at)
    if topic.must_acknowledge:
        deliveries += _plan_escalation(
            message, patient, topic, contents, at, deliveries
        )
    Delivery.objects.bulk_create(deliveries)
    if conversation is not None:
        Conversation.objects.filter(pk=conversation.pk).update(last_message_at=at)
    deliveries_enqueue([d.pk for d in deliveries if d.status == Status.QUEUED])
    return message


def _plan(
    message: Message, patient: Patient, topic: Topic, contents: dict[str, Content], at
) -> list[Delivery]:
    order = channel_order_get(patient=patient, topic=topic)
    return _plan_channels(message, patient, topic, contents, at, order)


def _plan_channels(
    message: Message,
    patient: Patient,
    topic: Topic,
    contents: dict[str, Content],
    at,
    order: list[str],
) -> list[Delivery]:
    """Deliveries for the inbox and the first usable other channel, in
    ``order``; channels tried before it keep their reason for staff."""
    deliveries = []
    external_planned = False
    for channel in order:
        if channel != Channel.INAPP and external_planned:
            continue
        decision = decide(
            patient,
            topic,
            channel,
            at,
            message_key=str(message.public_id),
            content_hash=message.content_hash,
        )
        content = contents.get(channel)
        if (
            content is not None
            and channel != Channel.INAPP
            and message.sensitivity == "confidential"
        ):
            content = confidential_notice(
                organization_name=patient.organization.name,
                code=message.authenticity_code,
                channel=channel,
                language=message.language,
            )
        delivery = Delivery(
            message=message,
            channel=channel,
            address=delivery_address(patient, channel),
            next_attempt_at=at,
        )
        if decision.outcome == Outcome.SUPPRESS:
            delivery.status, delivery.reason = Status.SUPPRESSED, decision.reason
        elif content is None:
            delivery.status, delivery.reason = (
                Status.SUPPRESSED,
                DeliveryReason.NO_TEMPLATE,
            )
        else:
            if channel != Channel.INAPP:  # the inbox shows the Message itself
                delivery.subject, delivery.body = content.subject, content.body
                delivery.body_html = content.body_html
            if decision.outcome == Outcome.DEFER:
                delivery.status, delivery.reason = Status.DEFERRED, decision.reason
                delivery.next_attempt_at = decision.until
            if channel != Channel.INAPP:
                external_planned = True
        deliveries.append(delivery)
    return deliveries


def _plan_escalation(
    message: Message,
    patient: Patient,
    topic: Topic,
    contents: dict[str, Content],
    at: datetime.datetime,
    planned: list[Delivery],
) -> list[Delivery]:
    """The ladder of a must-acknowledge topic: each later channel waits as a
    deferred delivery that reading or answering cancels (``message_mark_read``)."""
    used = {d.channel for d in planned}
    steps = []
    for step in topic.escalation_ladder:
        when = at + datetime.timedelta(hours=step["after_hours"])
        if step.get("staff"):
            message.escalate_to_staff_at = when
            Message.objects.filter(pk=message.pk).update(escalate_to_staff_at=when)
            continue
        if step["channel"] in used:
            continue
        used.add(step["channel"])
        [delivery] = _plan_channels(
            message, patient, topic, contents, when, [step["channel"]]
        )
        if delivery.status != Status.SUPPRESSED:
            delivery.status, delivery.reason = (
                Status.DEFERRED,
                DeliveryReason.ESCALATION,
            )
            delivery.next_attempt_at = max(delivery.next_attempt_at, when)
        steps.append(delivery)
    return steps


def messages_escalate_due(*, now: datetime.datetime | None = None) -> int:
    """Turn unread must-acknowledge messages whose last step is due into staff
    tasks: an open conversation about the message. Returns how many."""
    now = now or timezone.now()
    count = 0
    due = Message.objects.filter(
        escalate_to_staff_at__lte=now, escalated_at__isnull=True, read_at__isnull=True
    ).select_related("patient", "topic")
    for message in due.iterator():
        with transaction.atomic():
            claimed = Message.objects.filter(
                pk=message.pk, escalated_at__isnull=True
            ).update(escalated_at=now)
            if not claimed:
                continue  # another worker took it
            conversation = message.conversation or Conversation.objects.create(
                organization_id=message.organization_id,
                patient=message.patient,
                subject=f"Unacknowledged: {message.topic.name_en}"[:200],
            )
            Conversation.objects.filter(pk=conversation.pk).update(
                status=Conversation.Status.OPEN, last_message_at=now
            )
            if message.conversation_id is None:
                Message.objects.filter(pk=message.pk).update(conversation=conversation)
            count += 1
    return count


def deliveries_enqueue(ids: list[int]) -> None:
    """Queue the delivery task after commit, in batches, with ids only."""
    if not ids:
        return
    from django_q.tasks import async_task

    size = settings.MESSAGING_DELIVERY_BATCH

    def enqueue() -> None:
        for start in range(0, len(ids), size):
            async_task("messaging.tasks.deliveries_process", ids[start : start + size])

    transaction.on_commit(enqueue)


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
    """Ask consent again at send time: a STOP that landed since planning wins."""
    groups: dict[tuple, list[Delivery]] = defaultdict(list)
    for delivery in claimed:
        groups[(delivery.message.topic_id, delivery.channel)].append(delivery)
    sendable = []
    for (_topic_id, channel), group in groups.items():
        topic = group[0].message.topic
        keys = {str(d.message.public_id) for d in group}
        decisions = dict(
            iter_decisions(
                [d.message.patient_id for d in group],
                topic,
                channel,
                now,
                message_keys=keys,
            )
        )
        for delivery in group:
            decision = decisions[delivery.message.patient_id]
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
    return sendable


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
    resent.
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
        for result in backend.send_many(deliveries):
            delivery = next(d for d in deliveries if d.pk == result.delivery_id)
            counts[_record(delivery, result, now)] += 1
            for rider in merged.get(delivery.pk, []):
                counts[_record(rider, result, now)] += 1
    return dict(counts)


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
                _finish(
                    delivery,
                    Status.UNKNOWN,
                    next_attempt_at=now + datetime.timedelta(seconds=60),
                )
                counts[Status.UNKNOWN] += 1
                settled.add(delivery.pk)
            elif answers[delivery.pk]:
                result = SendResult(delivery.pk, backend.provider, answers[delivery.pk])
                counts[_record(delivery, result, now)] += 1
                settled.add(delivery.pk)
    return settled


def _record(delivery: Delivery, result: SendResult, now) -> str:
    if result.ok:
        status = Status.DELIVERED if delivery.channel == Channel.INAPP else Status.SENT
        _finish(
            delivery,
            status,
            provider=result.provider,
            provider_id=result.provider_id,
            sent_at=now,
            delivered_at=now if status == Status.DELIVERED else None,
        )
        message = delivery.message
        SendRecord.objects.create(
            patient_id=message.patient_id,
            topic_id=message.topic_id,
            purpose=message.topic.purpose,
            urgent=message.topic.urgent,
            channel=delivery.channel,
            message_key=str(message.public_id),
            content_hash=message.content_hash,
            sent_at=now,
        )
        return status
    error: DeliveryError = result.error
    logger.warning("delivery %s failed: %s", delivery.pk, error.code or error)
    if error.unknown:
        _finish(
            delivery, Status.UNKNOWN, provider=result.provider, error_code=error.code
        )
        return Status.UNKNOWN
    if error.permanent or delivery.attempts >= settings.MESSAGING_MAX_ATTEMPTS:
        reason = (
            DeliveryReason.PROVIDER_REJECTED
            if error.permanent
            else DeliveryReason.RETRIES_EXHAUSTED
        )
        _finish(delivery, Status.FAILED, reason=reason, error_code=error.code)
        return Status.FAILED
    _finish(
        delivery,
        Status.QUEUED,
        error_code=error.code,
        next_attempt_at=now + _backoff(delivery.attempts, error.retry_after),
    )
    return "retry"


def deliveries_requeue_due(*, now: datetime.datetime | None = None) -> int:
    """Queue what is due: deferred rows whose time came, retries, expired leases.

    Rows queued less than a minute ago are left to the task queued with them.
    Returns how many were queued.
    """
    now = now or timezone.now()
    ids = list(
        Delivery.objects.due(now - datetime.timedelta(seconds=60))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:10_000]
    )
    with transaction.atomic():
        deliveries_enqueue(ids)
    return len(ids)


@transaction.atomic
def message_mark_read(*, message: Message, channel: str = Channel.INAPP) -> Message:
    """Mark a message read and cancel its copies still waiting on other channels."""
    now = timezone.now()
    if message.read_at is None:
        Message.objects.filter(pk=message.pk).update(read_at=now)
        message.read_at = now
    message.deliveries.filter(channel=channel).exclude(status=Status.READ).update(
        status=Status.READ, read_at=now
    )
    message.deliveries.filter(status__in=[Status.QUEUED, Status.DEFERRED]).exclude(
        channel=channel
    ).update(
        status=Status.CANCELLED,
        reason=DeliveryReason.ALREADY_READ,
        lease_expires_at=None,
    )
    return message


def delivery_status_update(
    *, provider: str, provider_id: str, status: str, error_code: str = ""
) -> Delivery | None:
    """Apply a provider's status callback; return the delivery, or None if unknown.

    Callbacks are de-duplicated on (provider, provider id, status) and only
    ever move a delivery forward: a late "sent" after "delivered" changes
    nothing. A permanent failure falls back to the topic's next channel.
    """
    from messaging.models import STATUS_RANK, StatusCallback

    if status not in Status.values:
        raise ValueError(f"Unknown delivery status {status!r}.")
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update()
            .filter(provider=provider, provider_id=provider_id)
            .select_related("message")
            .first()
        )
        if delivery is None:
            return None
        _, created = StatusCallback.objects.get_or_create(
            provider=provider, provider_id=provider_id, status=status
        )
        if not created or STATUS_RANK[status] <= STATUS_RANK[delivery.status]:
            return delivery
        now = timezone.now()
        fields: dict = {"status": status, "updated_at": now}
        if status == Status.DELIVERED:
            fields["delivered_at"] = now
        if status in (Status.FAILED, Status.BOUNCED):
            fields |= {
                "error_code": error_code[:64],
                "reason": DeliveryReason.PROVIDER_REJECTED,
            }
        Delivery.objects.filter(pk=delivery.pk).update(**fields)
        for name, value in fields.items():
            setattr(delivery, name, value)
    if status in (Status.FAILED, Status.BOUNCED):
        delivery_fallback(delivery=delivery)
    return delivery


@transaction.atomic
def delivery_fallback(*, delivery: Delivery) -> Delivery | None:
    """Plan the message on the next channel in the patient's order after a
    permanent failure; return the new delivery, or None when none is left."""
    message = delivery.message
    patient, topic = message.patient, message.topic
    used = set(message.deliveries.values_list("channel", flat=True))
    order = [
        c for c in channel_order_get(patient=patient, topic=topic) if c not in used
    ]
    if not order or message.read_at is not None:
        return None
    contents = _contents(
        patient=patient,
        topic=topic,
        context=context_for(patient, message.context),
        text=message.body if message.free_text else "",
        subject=message.subject,
        confidential=message.sensitivity == "confidential",
    )
    planned = list(
        _plan_channels(message, patient, topic, contents, timezone.now(), order)
    )
    Delivery.objects.bulk_create(planned)
    deliveries_enqueue([d.pk for d in planned if d.status == Status.QUEUED])
    return next((d for d in planned if d.status != Status.SUPPRESSED), None)

"""The bulk form of ``message_send``: one message to each of many patients.

Planned set-wise, one page of patients at a time (memory bounded by the page,
not the audience): consent answers for the page in three queries per channel,
rendering in Python, the page's Messages and Deliveries written in one
transaction, the delivery tasks queued after its commit.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from clinic.models import Patient
from consent.models import Topic
from consent.selectors import channel_order_get, iter_decisions
from messaging.models import Delivery, Message, Template, authenticity_code_new
from messaging.planning import context_for
from messaging.services.sending import (
    Status,
    _contents,
    _message_build,
    _plan_channels,
    deliveries_enqueue,
)

PAGE_SIZE = 1000


def message_send_many(
    *,
    patients: QuerySet[Patient],
    topic: Topic,
    origin: str,
    context: dict | None = None,
    text: str = "",
    subject: str = "",
    confidential: bool = False,
    idempotency_prefix: str = "",
    origin_ref: str = "",
    at: datetime.datetime | None = None,
    page_size: int = PAGE_SIZE,
) -> int:
    """Send the same message (personalised per patient) to every patient of
    ``patients``; return how many messages were planned now.

    With ``idempotency_prefix``, each patient's message has the key
    ``<prefix>:<patient id>``, so a second call (a retry, a resumed campaign)
    plans nobody twice. Patients must belong to the topic's organization
    (ConsentError otherwise); a content problem raises MessageContentError
    before anything of that page is written. The duplicate-content check of
    ``consent.decide`` is not applied here: the idempotency key is what keeps
    one campaign from reaching a patient twice.
    """
    at = at or timezone.now()
    templates = list(Template.objects.filter(topic=topic))
    planned = 0
    for page in _pages(patients, page_size):
        planned += _send_page(
            page=page,
            topic=topic,
            templates=templates,
            origin=origin,
            context=context,
            text=text,
            subject=subject,
            confidential=confidential,
            idempotency_prefix=idempotency_prefix,
            origin_ref=origin_ref,
            at=at,
        )
    return planned


def _pages(patients: QuerySet[Patient], size: int) -> Iterator[list[Patient]]:
    """Keyset pages, so a million patients never sit in memory at once."""
    last = 0
    queryset = patients.select_related("organization", "preferences").order_by("pk")
    while True:
        page = list(queryset.filter(pk__gt=last)[:size])
        if not page:
            return
        last = page[-1].pk
        yield page


def _send_page(*, page, topic, templates, idempotency_prefix, at, **content) -> int:
    keys = {
        p.pk: f"{idempotency_prefix}:{p.pk}" if idempotency_prefix else "" for p in page
    }
    if idempotency_prefix:
        taken = set(
            Message.objects.filter(
                organization_id=topic.organization_id, idempotency_key__in=keys.values()
            ).values_list("idempotency_key", flat=True)
        )
        page = [p for p in page if keys[p.pk] not in taken]
    if not page:
        return 0
    orders = {p.pk: channel_order_get(patient=p, topic=topic) for p in page}
    channels = {channel for order in orders.values() for channel in order}
    ids = [p.pk for p in page]
    decisions = {
        channel: dict(iter_decisions(ids, topic, channel, at)) for channel in channels
    }
    planned = []
    for patient in page:
        contents = _contents(
            patient=patient,
            topic=topic,
            context=context_for(patient, content["context"]),
            text=content["text"],
            subject=content["subject"],
            confidential=content["confidential"],
            topic_templates=templates,
        )
        message = _message_build(
            patient=patient,
            topic=topic,
            inbox=contents["inapp"],
            origin=content["origin"],
            origin_ref=content["origin_ref"],
            idempotency_key=keys[patient.pk],
            context=content["context"],
            free_text=bool(content["text"]),
            at=at,
        )
        planned.append((patient, message, contents))
    _fresh_codes(topic.organization_id, [message for _, message, _ in planned])
    deliveries = []
    for patient, message, contents in planned:
        # Planned before the messages are saved: planning says why each is sent.
        deliveries += _plan_channels(
            message,
            patient,
            topic,
            contents,
            at,
            orders[patient.pk],
            decisions=lambda channel, pk=patient.pk: decisions[channel][pk],
        )
    with transaction.atomic():
        Message.objects.bulk_create([m for _, m, _ in planned], batch_size=2000)
        Delivery.objects.bulk_create(deliveries, batch_size=2000)
        deliveries_enqueue([d.pk for d in deliveries if d.status == Status.QUEUED])
    return len(planned)


def _fresh_codes(organization_id: int, messages: list[Message]) -> None:
    """Draw new authenticity codes for any that clash with the organization's
    existing ones or with each other, before the notices quote them."""
    while True:
        codes = [m.authenticity_code for m in messages]
        taken = set(
            Message.objects.filter(
                organization_id=organization_id, authenticity_code__in=codes
            ).values_list("authenticity_code", flat=True)
        )
        seen: set[str] = set()
        clashes = []
        for message in messages:
            code = message.authenticity_code
            if code in taken or code in seen:
                clashes.append(message)
            seen.add(code)
        if not clashes:
            return
        for message in clashes:
            message.authenticity_code = authenticity_code_new()

"""The bulk form of ``message_send``: one message to each of many patients.

Planned set-wise, one keyset page of patients at a time (memory bounded by the
page, not the audience). Per page: the patients' few columns as plain rows (no
model instances), consent answers for the channels the walk needs only
(``decisions_walk``: the inbox and external channels up to the first usable
one, a few queries per channel for the page; or the caller's, already made),
rendering with templates parsed once (``bulk_rendering``), the delivery plan from
``sending.channel_plans`` (the walk ``message_send`` uses), and the page's
Messages and Deliveries written in one transaction: ``COPY`` on PostgreSQL
(``copy_writer``), ``bulk_create`` elsewhere. The delivery tasks are queued
after its commit.
"""

from __future__ import annotations

import datetime
import json
import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import SimpleNamespace

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import CharField, QuerySet
from django.db.models.functions import Cast
from django.utils import timezone

from clinic.models import Patient
from clinic.roles import purpose_check
from consent.errors import ConsentError
from consent.facts import PageFacts
from consent.models import Topic
from consent.policy import Decision, Why
from consent.selectors import channel_order_get
from consent.vocabulary import Channel
from core.db import filter_ids
from messaging.content import (
    Content,
    confidential_notice,
    content_hash,
)
from messaging.models import Delivery, Message
from messaging.services.bulk_codes import existing_values, fresh_codes
from messaging.services.bulk_rendering import Rendering
from messaging.services.channel_walk import walk
from messaging.services.collector import collector_paused
from messaging.services.copy_writer import copy_messages
from messaging.services.sending import (
    ChannelPlan,
    Status,
    channel_plans,
    deliveries_enqueue,
)

PAGE_SIZE = 10_000
# Draws of a page's authenticity codes before a clash is an error: a clash
# needs another planner to draw one of the page's codes in the same moment
# (30^8 codes), so a second draw is nearly always the last.
CODE_ATTEMPTS = 3

# patient id → channel → consent's answer
Decisions = Mapping[int, Mapping[str, Decision]]


def message_send_many(
    *,
    patients: QuerySet[Patient] | LoadedPage,
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
    decisions: Decisions | None = None,
    on_behalf_of=None,
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

    ``decisions``: consent's answers the caller already has (patient id →
    channel → Decision, as ``decisions_walk`` returns them, decided at
    ``at``), so a campaign decides once; any answer missing is asked here.

    ``on_behalf_of``: the staff user who sends; PurposeNotAllowed, before
    anything is written, when their role may not send the topic's purpose
    (``clinic.roles.ROLE_PURPOSES``). None for Liaison's own sends (a
    campaign's pages: its services and planner check its author and approver).
    """
    return len(
        messages_plan_many(
            patients=patients,
            topic=topic,
            origin=origin,
            context=context,
            text=text,
            subject=subject,
            confidential=confidential,
            idempotency_prefix=idempotency_prefix,
            origin_ref=origin_ref,
            at=at,
            page_size=page_size,
            decisions=decisions,
            on_behalf_of=on_behalf_of,
        )
    )


def messages_plan_many(
    *,
    patients: QuerySet[Patient] | LoadedPage,
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
    decisions: Decisions | None = None,
    on_behalf_of=None,
) -> dict[int, int]:
    """``message_send_many``, returning patient id → id of the Message planned
    now (patients already holding the idempotency key are left out)."""
    if on_behalf_of is not None:
        purpose_check(on_behalf_of, topic.purpose)
    job = _Job(
        topic=topic,
        origin=origin,
        caller_context=context,
        text=text,
        subject=subject,
        confidential=confidential,
        idempotency_prefix=idempotency_prefix,
        origin_ref=origin_ref[:200],
        at=at or timezone.now(),
    )
    planned: dict[int, int] = {}
    for page, everyone in _pages(patients, page_size):
        with collector_paused():
            planned.update(_send_page(job, page, decisions or {}, everyone))
    return planned


# --- Reading -------------------------------------------------------------------


@dataclass(slots=True)
class PatientRow:
    """What planning needs of a patient, without a model instance (loading
    100,000 Patients, their organization and preferences, and parsing every
    phone number cost more than planning them)."""

    pk: int
    organization_id: int
    given_name: str
    family_name: str
    language: str
    email: str
    phone: str
    channel_order: dict | None


PATIENT_ROW_FIELDS = (
    "pk",
    "organization_id",
    "given_name",
    "family_name",
    "preferred_language",
    "email",
    "bulk_phone",
    "preferences__channel_order",
)


@dataclass
class LoadedPage:
    """Patients the caller already loaded (``patient_rows``): planned as one
    page. ``queryset`` selects exactly them (consent reads through it)."""

    rows: list[PatientRow]
    queryset: QuerySet[Patient]


def patient_rows(queryset: QuerySet[Patient], *extra: str) -> QuerySet:
    """The queryset's patients as value tuples: the fields of ``PatientRow``,
    then ``extra`` ones."""
    # The stored E.164 text, as ``str(patient.phone)`` gives it.
    return queryset.annotate(bulk_phone=Cast("phone", CharField())).values_list(
        *PATIENT_ROW_FIELDS, *extra
    )


def _pages(
    patients: QuerySet[Patient] | LoadedPage, size: int
) -> Iterator[tuple[list[PatientRow], QuerySet[Patient]]]:
    """Keyset pages, so a million patients never sit in memory at once; each
    with a queryset of exactly its patients."""
    if isinstance(patients, LoadedPage):
        if patients.rows:
            yield patients.rows, patients.queryset
        return
    last = 0
    queryset = patient_rows(patients.order_by("pk"))
    while True:
        page = [PatientRow(*row) for row in queryset.filter(pk__gt=last)[:size]]
        if not page:
            return
        first, last = page[0].pk, page[-1].pk
        yield page, patients.filter(pk__gte=first, pk__lte=last)


class ChannelOrders:
    """patient → channel order (``consent.selectors.channel_order_get``),
    asked once per distinct preference rather than once per patient."""

    def __init__(self, topic: Topic):
        self.topic = topic
        self.cache: dict[str, list[str]] = {}

    def __call__(self, channel_order: dict | None) -> list[str]:
        key = json.dumps(channel_order, sort_keys=True) if channel_order else ""
        order = self.cache.get(key)
        if order is None:
            shim = SimpleNamespace(
                preferences=SimpleNamespace(channel_order=channel_order or {})
            )
            order = self.cache[key] = channel_order_get(patient=shim, topic=self.topic)
        return order


# --- Consent, set-wise ---------------------------------------------------------


def decisions_walk(
    ids: list[int],
    orders: Mapping[int, list[str]],
    has_content: Callable[[int, str], bool],
    topic: Topic,
    at: datetime.datetime,
    *,
    known: Decisions | None = None,
    everyone: QuerySet[Patient] | None = None,
    rows: Mapping[int, dict] | None = None,
) -> dict[int, dict[str, Decision]]:
    """Consent's answers for the channels planning will ask about, and no others:
    along each patient's order, the inbox and every external channel up to the
    first one neither suppressed nor without content (``channel_plans`` stops
    there). ``known``: answers already made, not asked again (when they cover
    everything, nothing is read). ``everyone``: a queryset of exactly ``ids``;
    ``rows``: the patients already read, by id
    (``consent.facts.patient_fact_rows``).

    The facts are read once for every channel (``consent.facts.PageFacts``), then each answer
    is consent's own ``evaluate``."""
    known = known or {}
    result: dict[int, dict[str, Decision]] = {}
    page: list[PageFacts] = []  # read at the first answer not known

    def facts() -> PageFacts:
        if not page:
            channels = {c for pk in ids for c in orders[pk]}
            page.append(PageFacts(ids, topic, channels, at, everyone, rows))
        return page[0]

    for pk in ids:
        # The caller's answers are shared, not copied: a campaign's page
        # arrives fully decided, and copying 10,000 dicts costs more than
        # the walk.
        answers = known.get(pk)
        if answers is None:
            answers = {}
        result[pk] = answers

        def decision_for(channel: str, pk=pk) -> Decision:
            decision = result[pk].get(channel)
            if decision is None:
                if result[pk] is known.get(pk):
                    result[pk] = dict(result[pk])
                decision = result[pk][channel] = facts().decide(pk, channel)
            return decision

        walk(orders[pk], decision_for, lambda channel, pk=pk: has_content(pk, channel))
    return result


@dataclass
class _Job:
    """What every page of one call shares: the message as asked, its
    rendering (``bulk_rendering``), the patients' channel orders."""

    topic: Topic
    origin: str
    caller_context: dict | None
    text: str
    subject: str
    confidential: bool
    idempotency_prefix: str
    origin_ref: str
    at: datetime.datetime

    def __post_init__(self):
        self.rendering = Rendering(
            topic=self.topic,
            caller_context=self.caller_context,
            text=self.text,
            subject=self.subject,
            confidential=self.confidential,
        )
        self.orders = ChannelOrders(self.topic)


# --- Planning a page -----------------------------------------------------------


@dataclass(slots=True)
class PlannedMessage:
    """One Message row as planned, with its deliveries."""

    patient_id: int
    public_id: uuid.UUID
    idempotency_key: str
    sensitivity: str
    language: str
    subject: str
    body: str
    why: Why | None  # the inbox decision's
    content_hash: str
    authenticity_code: str
    deliveries: list[ChannelPlan]


def _send_page(
    job: _Job, page: list[PatientRow], known: Decisions, everyone: QuerySet[Patient]
) -> dict[int, int]:
    topic = job.topic
    if any(row.organization_id != topic.organization_id for row in page):
        raise ConsentError(
            "Some patients belong to another organization than the topic."
        )
    prefix = job.idempotency_prefix
    keys = {row.pk: f"{prefix}:{row.pk}" if prefix else "" for row in page}
    if prefix:
        taken = existing_values(
            topic.organization_id, "idempotency_key", list(keys.values())
        )
        if taken:
            page = [row for row in page if keys[row.pk] not in taken]
            everyone = filter_ids(everyone, [row.pk for row in page])
    if not page:
        return {}
    orders = {row.pk: job.orders(row.channel_order) for row in page}
    language = {row.pk: row.language for row in page}
    decisions = decisions_walk(
        [row.pk for row in page],
        orders,
        lambda pk, channel: job.rendering.has_content(language[pk], channel),
        topic,
        job.at,
        known=known,
        everyone=everyone,
    )
    contents = [job.rendering.contents(row) for row in page]  # raises before any write
    attempt = 1
    while True:
        planned = _plan_page(job, page, contents, orders, decisions)
        try:
            # A savepoint inside a campaign's page: a clash undoes this
            # write only (its delivery tasks with it), not the claim.
            with transaction.atomic():
                if connection.vendor == "postgresql":
                    message_ids, queued = copy_messages(job, planned)
                else:
                    message_ids, queued = _bulk_create(job, planned)
                _enqueue_in_one_transaction(queued)
            return message_ids
        except IntegrityError as error:
            # Another planner of the organization gave one of these codes
            # between our check and our write (its page was not committed
            # when ``fresh_codes`` looked): draw the page's codes again,
            # which now sees it.
            if attempt == CODE_ATTEMPTS or "authenticity_code" not in str(error):
                raise
            attempt += 1


def _plan_page(
    job: _Job,
    page: list[PatientRow],
    contents: list[dict[str, Content]],
    orders: Mapping[int, list[str]],
    decisions: Decisions,
) -> list[PlannedMessage]:
    """The page's messages with fresh codes (quoted by confidential
    notices, so drawn before them) and public ids."""
    codes = fresh_codes(job.topic.organization_id, len(page))
    # One draw from the system's random source for the page, as uuid4 draws
    # 16 bytes per call.
    random = os.urandom(16 * len(page))
    return [
        _plan_one(
            job,
            row,
            content,
            code,
            orders,
            decisions,
            uuid.UUID(bytes=random[16 * index : 16 * index + 16], version=4),
        )
        for index, (row, content, code) in enumerate(
            zip(page, contents, codes, strict=True)
        )
    ]


def _enqueue_in_one_transaction(ids: list[int]) -> None:
    """``deliveries_enqueue``'s tasks (the same batches), written in one
    transaction after the page commits: the ORM broker writes a row per task,
    and a page's hundred tasks each committed alone cost a WAL flush apiece.
    Should writing them fail, none is queued and ``deliveries_requeue_due``
    queues the page's deliveries a minute later, as for a task lost with its
    worker."""
    from django_q.conf import Conf
    from django_q.tasks import async_task

    if Conf.SYNC or not ids:  # tests: each task runs at once, as it is queued
        deliveries_enqueue(ids)
        return
    size = settings.MESSAGING_DELIVERY_BATCH

    def enqueue() -> None:
        with transaction.atomic():
            for start in range(0, len(ids), size):
                async_task(
                    "messaging.tasks.deliveries_process", ids[start : start + size]
                )

    transaction.on_commit(enqueue)


def _plan_one(job, row, contents, code, orders, decisions, public_id) -> PlannedMessage:
    inbox = contents[Channel.INAPP]
    confidential = inbox.confidential
    answers = decisions[row.pk]

    def address_for(channel: str) -> str:
        if channel == Channel.EMAIL:
            return row.email
        if channel in (Channel.SMS, Channel.VOICE):
            return row.phone or ""
        return ""

    deliveries, why = channel_plans(
        order=orders[row.pk],
        decision_for=answers.__getitem__,
        contents=contents,
        at=job.at,
        confidential=confidential,
        notice=lambda channel: confidential_notice(
            organization_name=job.rendering.organization_name,
            code=code,
            channel=channel,
            language=row.language,
        ),
        address_for=address_for,
    )
    return PlannedMessage(
        patient_id=row.pk,
        public_id=public_id,
        idempotency_key=f"{job.idempotency_prefix}:{row.pk}"
        if job.idempotency_prefix
        else "",
        sensitivity="confidential" if confidential else "public",
        language=row.language,
        subject=inbox.subject,
        body=inbox.body,
        why=why,
        content_hash=content_hash(job.topic.pk, inbox.subject, inbox.body),
        authenticity_code=code,
        deliveries=deliveries,
    )


def _bulk_create(
    job: _Job, planned: Iterable[PlannedMessage]
) -> tuple[dict[int, int], list[int]]:
    """The portable writer: model instances and ``bulk_create``."""
    messages, deliveries = [], []
    for plan in planned:
        message = Message(
            public_id=plan.public_id,
            organization_id=job.topic.organization_id,
            patient_id=plan.patient_id,
            topic=job.topic,
            origin=job.origin,
            origin_ref=job.origin_ref,
            idempotency_key=plan.idempotency_key,
            sensitivity=plan.sensitivity,
            language=plan.language,
            subject=plan.subject,
            body=plan.body,
            content_hash=plan.content_hash,
            context=job.caller_context or {},
            why=plan.why.as_dict() if plan.why is not None else {},
            free_text=bool(job.text),
            authenticity_code=plan.authenticity_code,
            created_at=job.at,
        )
        messages.append(message)
        deliveries += [
            Delivery(
                message=message,
                channel=d.channel,
                address=d.address,
                to_address_being_verified=d.to_address_being_verified,
                status=d.status,
                reason=d.reason,
                subject=d.subject,
                body=d.body,
                body_html=d.body_html,
                next_attempt_at=d.next_attempt_at,
            )
            for d in plan.deliveries
        ]
    Message.objects.bulk_create(messages, batch_size=2000)
    Delivery.objects.bulk_create(deliveries, batch_size=2000)
    return (
        {m.patient_id: m.pk for m in messages},
        [d.pk for d in deliveries if d.status == Status.QUEUED],
    )

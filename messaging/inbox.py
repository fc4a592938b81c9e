"""Reads for the patient's secure inbox (the portal's messages pages).

Every function takes the patient whose inbox it reads and filters by that
patient and their organization, so a caller cannot reach another patient's
messages by id. What a patient sees: the messages sent to them plus what they
wrote back. Query counts are fixed whatever the number of messages.

A patient may hide an inbox line from the people acting for them (the portal
decides who may hide and who sees hidden lines). The line is the unit: a
message outside any conversation, or a whole conversation, which is hidden as
soon as one of its messages is, so answers and later messages in it stay
hidden too. Every selector leaves hidden lines out unless the caller passes
``include_hidden=True``.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from uuid import UUID

from django.db.models import Count, Exists, Max, Model, OuterRef, Q, QuerySet, Subquery
from django.shortcuts import get_object_or_404

from clinic.models import Patient
from consent.vocabulary import Purpose
from messaging.models import Message
from messaging.threads import thread_model

PAGE_SIZE = 20
THREAD_SIZE = 50

OUT = Message.Direction.OUTBOUND
# Security codes and invitations go to one contact point, never to the inbox.
OUT_TO_INBOX = Q(direction=OUT) & ~Q(topic__purpose=Purpose.SECURITY)
VISIBLE = OUT_TO_INBOX | Q(
    direction=Message.Direction.INBOUND, origin=Message.Origin.PATIENT
)
UNREAD = OUT_TO_INBOX & Q(read_at__isnull=True)


def _hidden_in_conversation(conversation: str) -> Exists:
    """Whether the conversation ``conversation`` (an outer reference) holds a
    message hidden from proxies; false for a message outside any."""
    return Exists(
        Message.objects.filter(
            conversation=OuterRef(conversation), hidden_from_proxies_at__isnull=False
        )
    )


def _line_hidden() -> Q:
    """Messages whose inbox line is hidden from proxies: the message itself,
    or any message of its conversation."""
    return Q(hidden_from_proxies_at__isnull=False) | Q(
        _hidden_in_conversation("conversation")
    )


@dataclass(frozen=True)
class InboxItem:
    """One line of the inbox: a conversation, or a message outside any."""

    at: datetime.datetime
    subject: str
    unread: int
    message_public_id: UUID  # the message the line opens (a conversation's newest)
    conversation: Model | None = None  # the desk's Conversation
    message: Message | None = None
    hidden: bool = False  # hidden from proxies (only the patient sees such lines)


@dataclass(frozen=True)
class InboxPage:
    items: list[InboxItem]
    next_before: datetime.datetime | None  # cursor for the next (older) page


def _patient_messages(patient: Patient, include_hidden: bool) -> QuerySet[Message]:
    messages = Message.objects.for_organization(patient.organization_id).filter(
        patient=patient
    )
    return messages if include_hidden else messages.exclude(_line_hidden())


def inbox_message_queryset(
    *, patient: Patient, include_hidden: bool = False
) -> QuerySet[Message]:
    """The patient's visible messages, newest first (unevaluated); lines
    hidden from proxies only with ``include_hidden``."""
    return (
        _patient_messages(patient, include_hidden)
        .filter(VISIBLE)
        .order_by("-created_at", "-pk")
    )


def inbox_unread_count(*, patient: Patient, include_hidden: bool = False) -> int:
    """How many messages to the patient are still unread (one query); those
    of lines hidden from proxies only with ``include_hidden``."""
    return _patient_messages(patient, include_hidden).filter(UNREAD).count()


def inbox_fingerprint(
    *, patient: Patient, include_hidden: bool = False
) -> tuple[int, int | None]:
    """What changes when the inbox does: the unread count and the newest
    visible message (one query). Live pages compare it between two reads."""
    found = _patient_messages(patient, include_hidden).aggregate(
        unread=Count("pk", filter=UNREAD), newest=Max("pk", filter=VISIBLE)
    )
    return found["unread"], found["newest"]


def inbox_hidden_public_ids(*, patient: Patient) -> set[UUID]:
    """Every message of the patient whose line is hidden from proxies, shown
    in the inbox or not (one query); for leaving them out elsewhere."""
    return set(
        Message.objects.for_organization(patient.organization_id)
        .filter(patient=patient)
        .filter(_line_hidden())
        .values_list("public_id", flat=True)
    )


def inbox_message_is_visible(
    *, patient: Patient, public_id: UUID, include_hidden: bool = False
) -> bool:
    """Whether message ``public_id`` shows in the patient's inbox (one query)."""
    return (
        inbox_message_queryset(patient=patient, include_hidden=include_hidden)
        .filter(public_id=public_id)
        .exists()
    )


def inbox_item_list(
    *,
    patient: Patient,
    before: datetime.datetime | None = None,
    limit: int = PAGE_SIZE,
    include_hidden: bool = False,
) -> InboxPage:
    """One page of the inbox, newest first: conversations with their unread
    count and newest visible message, and messages outside any conversation;
    lines hidden from proxies only with ``include_hidden`` (then marked).

    ``before`` is the cursor returned with the previous page. Two queries.
    """
    visible = inbox_message_queryset(patient=patient, include_hidden=include_hidden)
    newest = visible.filter(conversation=OuterRef("pk"))
    conversations = (
        thread_model()
        .objects.for_organization(patient.organization_id)
        .filter(patient=patient)
    )
    if include_hidden:
        conversations = conversations.annotate(hidden=_hidden_in_conversation("pk"))
    else:
        conversations = conversations.exclude(_hidden_in_conversation("pk"))
    conversations = (
        conversations.annotate(
            newest_at=Subquery(newest.values("created_at")[:1]),
            newest_public_id=Subquery(newest.values("public_id")[:1]),
            newest_subject=Subquery(newest.values("subject")[:1]),
            unread=Count(
                "messages",
                filter=Q(messages__direction=OUT, messages__read_at__isnull=True),
            ),
        )
        .filter(newest_at__isnull=False)
        .order_by("-newest_at", "-pk")
    )
    loose = visible.filter(conversation__isnull=True).only(
        "public_id",
        "subject",
        "created_at",
        "read_at",
        "direction",
        "topic_id",
        "hidden_from_proxies_at",
    )
    if before is not None:
        conversations = conversations.filter(newest_at__lt=before)
        loose = loose.filter(created_at__lt=before)
    items = [
        InboxItem(
            at=c.newest_at,
            subject=c.subject or c.newest_subject,
            unread=c.unread,
            message_public_id=c.newest_public_id,
            conversation=c,
            hidden=getattr(c, "hidden", False),
        )
        for c in conversations[: limit + 1]
    ] + [
        InboxItem(
            at=m.created_at,
            subject=m.subject,
            unread=int(m.direction == OUT and m.read_at is None),
            message_public_id=m.public_id,
            message=m,
            hidden=m.hidden_from_proxies_at is not None,
        )
        for m in loose[: limit + 1]
    ]
    items.sort(key=lambda item: item.at, reverse=True)
    more = len(items) > limit
    items = items[:limit]
    return InboxPage(items=items, next_before=items[-1].at if more else None)


def inbox_message_get(
    *, patient: Patient, public_id: UUID, include_hidden: bool = False
) -> Message:
    """The patient's visible message ``public_id``; Http404 for any other,
    and for one whose line is hidden from proxies unless ``include_hidden``.

    The message carries ``line_hidden``: whether its line (the message, or
    its whole conversation) is hidden from proxies.
    """
    return get_object_or_404(
        inbox_message_queryset(patient=patient, include_hidden=include_hidden)
        .select_related("topic", "conversation", "organization")
        .annotate(line_hidden=_line_hidden()),
        public_id=public_id,
    )


def inbox_thread_list(
    *,
    patient: Patient,
    message: Message,
    limit: int = THREAD_SIZE,
    include_hidden: bool = False,
) -> list[Message]:
    """The newest ``limit`` visible messages of the message's conversation,
    oldest first (just the message when it has no conversation); lines
    hidden from proxies only with ``include_hidden``."""
    if message.conversation_id is None:
        return [message]
    thread = list(
        inbox_message_queryset(patient=patient, include_hidden=include_hidden)
        .filter(conversation_id=message.conversation_id)
        .only(
            "public_id",
            "subject",
            "body",
            "created_at",
            "read_at",
            "direction",
            "sensitivity",
        )[:limit]
    )
    thread.reverse()
    return thread

"""Reads for the patient's secure inbox (the portal's messages pages).

Every function takes the patient whose inbox it reads and filters by that
patient and their organization, so a caller cannot reach another patient's
messages by id. What a patient sees: the messages sent to them plus what they
wrote back. Query counts are fixed whatever the number of messages.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from uuid import UUID

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.shortcuts import get_object_or_404

from clinic.models import Patient
from consent.vocabulary import Purpose
from messaging.models import Conversation, Message

PAGE_SIZE = 20
THREAD_SIZE = 50

OUT = Message.Direction.OUTBOUND
# Security codes and invitations go to one contact point, never to the inbox.
OUT_TO_INBOX = Q(direction=OUT) & ~Q(topic__purpose=Purpose.SECURITY)
VISIBLE = OUT_TO_INBOX | Q(
    direction=Message.Direction.INBOUND, origin=Message.Origin.PATIENT
)
UNREAD = OUT_TO_INBOX & Q(read_at__isnull=True)


@dataclass(frozen=True)
class InboxItem:
    """One line of the inbox: a conversation, or a message outside any."""

    at: datetime.datetime
    subject: str
    unread: int
    message_public_id: UUID  # the message the line opens (a conversation's newest)
    conversation: Conversation | None = None
    message: Message | None = None


@dataclass(frozen=True)
class InboxPage:
    items: list[InboxItem]
    next_before: datetime.datetime | None  # cursor for the next (older) page


def inbox_message_queryset(*, patient: Patient) -> QuerySet[Message]:
    """The patient's visible messages, newest first (unevaluated)."""
    return (
        Message.objects.for_organization(patient.organization_id)
        .filter(patient=patient)
        .filter(VISIBLE)
        .order_by("-created_at", "-pk")
    )


def inbox_unread_count(*, patient: Patient) -> int:
    """How many messages to the patient are still unread (one query)."""
    return (
        Message.objects.for_organization(patient.organization_id)
        .filter(patient=patient)
        .filter(UNREAD)
        .count()
    )


def inbox_item_list(
    *,
    patient: Patient,
    before: datetime.datetime | None = None,
    limit: int = PAGE_SIZE,
) -> InboxPage:
    """One page of the inbox, newest first: conversations with their unread
    count and newest visible message, and messages outside any conversation.

    ``before`` is the cursor returned with the previous page. Two queries.
    """
    visible = inbox_message_queryset(patient=patient)
    newest = visible.filter(conversation=OuterRef("pk"))
    conversations = (
        Conversation.objects.for_organization(patient.organization_id)
        .filter(patient=patient)
        .annotate(
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
        "public_id", "subject", "created_at", "read_at", "direction", "topic_id"
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
        )
        for c in conversations[: limit + 1]
    ] + [
        InboxItem(
            at=m.created_at,
            subject=m.subject,
            unread=int(m.direction == OUT and m.read_at is None),
            message_public_id=m.public_id,
            message=m,
        )
        for m in loose[: limit + 1]
    ]
    items.sort(key=lambda item: item.at, reverse=True)
    more = len(items) > limit
    items = items[:limit]
    return InboxPage(items=items, next_before=items[-1].at if more else None)


def inbox_message_get(*, patient: Patient, public_id: UUID) -> Message:
    """The patient's visible message ``public_id``; Http404 for any other."""
    return get_object_or_404(
        inbox_message_queryset(patient=patient).select_related(
            "topic", "conversation", "organization"
        ),
        public_id=public_id,
    )


def inbox_thread_list(
    *, patient: Patient, message: Message, limit: int = THREAD_SIZE
) -> list[Message]:
    """The newest ``limit`` visible messages of the message's conversation,
    oldest first (just the message when it has no conversation)."""
    if message.conversation_id is None:
        return [message]
    thread = list(
        inbox_message_queryset(patient=patient)
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

"""Reads for the staff conversation page: the patient's whole thread across
channels and what sits beside it (appointments, consent, past conversations),
so nobody asks a patient twice. Every function is scoped to the
conversation's organization; ``conversation_get_for_staff`` is the one way
in from a request (another organization's conversation is a 404)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import Http404
from django.utils import timezone

from clinic.models import Appointment, AppointmentStatus, StaffMember, Team
from consent.matrix import consent_matrix, matrix_topics
from consent.vocabulary import Channel
from conversations.models import Conversation, ConversationNote, SavedReply
from messaging.models import Delivery, Message

THREAD_SIZE = 100


def conversation_get_for_staff(*, user: Any, object_id: Any) -> Conversation:
    """The conversation ``object_id`` (primary key) if ``user`` may see it."""
    try:
        return (
            Conversation.objects.visible_to(user)
            .select_related("patient", "patient__organization", "assigned_to", "team")
            .get(pk=int(object_id))
        )
    except (Conversation.DoesNotExist, TypeError, ValueError) as error:
        raise Http404 from error


def conversation_get_by_public_id(*, user: Any, public_id: Any) -> Conversation | None:
    """For the websocket: the conversation if ``user`` may see it, else None."""
    return Conversation.objects.visible_to(user).filter(public_id=public_id).first()


def message_inbound_channel(message: Message) -> str:
    """The channel a patient's message came in on: SMS (stored by the inbound
    webhook), the portal (a reply there), else unknown ("")."""
    if message.idempotency_key.startswith("inbound:"):
        return Channel.SMS
    if message.origin_ref.startswith("portal"):
        return Channel.INAPP
    return ""


@dataclass
class ThreadItem:
    message: Message
    in_conversation: bool
    channels: list[tuple[str, str, str]] = field(default_factory=list)
    # (channel label, status label, reason label) per delivery; for a
    # patient's message, the channel it came in on.


def conversation_thread(
    conversation: Conversation, *, limit: int = THREAD_SIZE
) -> list[ThreadItem]:
    """The patient's latest ``limit`` messages, every channel and conversation,
    oldest first, each with its deliveries (or the channel it came in on).
    Three queries."""
    messages = list(
        Message.objects.for_organization(conversation.organization_id)
        .filter(patient_id=conversation.patient_id)
        .select_related("sender", "topic")
        .prefetch_related(
            Prefetch("deliveries", queryset=Delivery.objects.order_by("created_at"))
        )
        .order_by("-created_at", "-pk")[:limit]
    )
    items = []
    for message in reversed(messages):
        item = ThreadItem(message, message.conversation_id == conversation.pk)
        if message.direction == Message.Direction.INBOUND:
            channel = message_inbound_channel(message)
            if channel:
                item.channels.append((Channel(channel).label, "", ""))
        else:
            for delivery in message.deliveries.all():
                item.channels.append(
                    (
                        Channel(delivery.channel).label,
                        delivery.get_status_display(),
                        delivery.reason_label,
                    )
                )
        items.append(item)
    return items


def conversation_fingerprint(conversation_id: int) -> tuple:
    """What changes when the page would: the conversation's row and its
    patient's newest message and note (two queries). Live pages without a
    shared channel layer compare it between reads."""
    row = (
        Conversation.objects.filter(pk=conversation_id)
        .values_list(
            "patient_id",
            "status",
            "assigned_to_id",
            "team_id",
            "last_message_at",
            "staff_reply_count",
        )
        .first()
    )
    if row is None:
        return ()
    newest = Message.objects.filter(patient_id=row[0]).order_by("-pk").values("pk")[:1]
    note = (
        ConversationNote.objects.filter(conversation_id=conversation_id)
        .order_by("-pk")
        .values("pk")[:1]
    )
    marks = Delivery.objects.filter(message__in=newest).values_list("status", flat=True)
    return (row, list(newest), list(note), sorted(marks))


def upcoming_appointments(
    conversation: Conversation, *, limit: int = 5
) -> QuerySet[Appointment]:
    return (
        Appointment.objects.for_organization(conversation.organization_id)
        .filter(patient_id=conversation.patient_id, starts_at__gte=timezone.now())
        .exclude(status=AppointmentStatus.CANCELLED)
        .select_related("site", "practitioner__user")
        .order_by("starts_at")[:limit]
    )


def past_conversations(
    conversation: Conversation, *, limit: int = 10
) -> QuerySet[Conversation]:
    return (
        Conversation.objects.for_organization(conversation.organization_id)
        .filter(patient_id=conversation.patient_id)
        .exclude(pk=conversation.pk)
        .select_related("assigned_to", "team")
        .order_by("-last_message_at")[:limit]
    )


@dataclass
class ConsentRow:
    topic: str
    purpose: str
    cells: list[tuple[str, bool | None, bool]]  # (channel label, granted, locked)


def consent_summary(conversation: Conversation) -> list[ConsentRow]:
    """What the patient allows today, topic × channel (None: not used)."""
    patient = conversation.patient
    rows = []
    for topic, cells in consent_matrix(patient, matrix_topics(patient)):
        rows.append(
            ConsentRow(
                topic=str(topic),  # in the staff member's language
                purpose=topic.get_purpose_display(),
                cells=[
                    (Channel(channel).label, None, False)
                    if cell is None
                    else (cell.label, cell.granted, cell.locked)
                    for channel, cell in zip(Channel.values, cells, strict=True)
                ],
            )
        )
    return rows


def assignable_staff(conversation: Conversation) -> QuerySet[StaffMember]:
    return (
        StaffMember.objects.for_organization(conversation.organization_id)
        .select_related("user")
        .filter(user__is_active=True)
    )


def assignable_teams(conversation: Conversation) -> QuerySet[Team]:
    return Team.objects.for_organization(conversation.organization_id).select_related(
        "site"
    )


def saved_replies_for(conversation: Conversation) -> list[SavedReply]:
    """The organization's saved replies, the patient's language first."""
    replies = list(
        SavedReply.objects.for_organization(conversation.organization_id).order_by(
            "title"
        )
    )
    language = conversation.patient.preferred_language
    return sorted(replies, key=lambda reply: reply.language != language)


@dataclass(frozen=True)
class Sla:
    due_at: datetime.datetime | None
    answered_at: datetime.datetime | None
    awaiting_since: datetime.datetime | None
    overdue: bool


def conversation_sla(
    conversation: Conversation, now: datetime.datetime | None = None
) -> Sla:
    """The SLA clock: first response due, given, or overdue (unanswered
    past its due time and not closed)."""
    now = now or timezone.now()
    due = conversation.first_response_due_at
    overdue = (
        due is not None
        and conversation.first_response_at is None
        and conversation.status != Conversation.Status.CLOSED
        and due < now
    )
    return Sla(
        due, conversation.first_response_at, conversation.awaiting_since, overdue
    )

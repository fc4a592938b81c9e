"""Conversations as staff handle them: opened, answered, assigned, closed,
with their service levels kept on the row so the staff queue and the KPI
dashboard read them without scanning messages (docs/messaging.md,
"Conversations").

The fields keep these meanings, whoever writes:

- ``first_response_at``: the first staff reply; never reset.
- ``staff_reply_count``: how many staff replies.
- ``reopened_count``: +1 each time the patient writes to a closed
  conversation, which reopens it.
- ``closed_at``: the last time it was closed.
- ``awaiting_since``: since when the patient waits for an answer; set when
  they write (kept if they write again), cleared by a staff reply or a close.
- ``first_response_due_at``: when the first answer is due; set once, when the
  patient first waits and nobody answered yet.
- ``channel``: the channel the patient last wrote on.

Every change tells the staff pages following the conversation (and, for a
reply, the patient's portal pages) after commit, with ids only.
"""

from __future__ import annotations

import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from clinic.models import (
    Appointment,
    AppointmentStatus,
    Patient,
    Site,
    StaffMember,
    Team,
)
from clinic.scoping import staff_organization_id
from consent.models import Topic
from consent.vocabulary import Channel, Purpose
from core.live import notify_on_commit
from messaging.backends.inapp import patient_group
from messaging.content import context_for
from messaging.models import Conversation, ConversationNote, Message, SavedReply
from messaging.rendering import render

REPLY_MAX_LENGTH = 5000
NOTE_MAX_LENGTH = 4000
OPEN_STATUSES = (Conversation.Status.OPEN, Conversation.Status.PENDING)


class ConversationError(ValidationError):
    """The action cannot be done (empty reply, assignee of another organization…)."""


def first_response_due(opened_at: datetime.datetime) -> datetime.datetime:
    return opened_at + datetime.timedelta(
        hours=settings.CONVERSATION_FIRST_RESPONSE_HOURS
    )


def staff_patient_group(patient_id: int) -> str:
    """The channel-layer group of the staff conversation pages open on one
    patient. A page shows every message with the patient, whichever
    conversation it joined, so a change to any of the patient's conversations
    is news to all of them (the page re-reads; its own part is cheap)."""
    return f"staff-patient-{patient_id}"


def conversation_changed_notify(conversation: Conversation) -> None:
    """After commit, tell the staff pages open on the conversation's patient
    to re-read (ids only: the notice never carries a message's text)."""
    notify_on_commit(
        staff_patient_group(conversation.patient_id),
        {"type": "conversation.changed", "conversation": str(conversation.public_id)},
    )


def _check_actor(conversation: Conversation, user: Any) -> None:
    """Only staff of the conversation's organization (or a superuser) act on it."""
    if user is None or not getattr(user, "is_active", False):
        raise PermissionDenied
    if user.is_superuser:
        return
    if staff_organization_id(user) != conversation.organization_id:
        raise PermissionDenied


def _cleaned(text: str, max_length: int, empty: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ConversationError(empty)
    if len(text) > max_length:
        raise ConversationError(f"At most {max_length} characters.")
    return text


def _locked(conversation: Conversation) -> Conversation:
    return Conversation.objects.select_for_update().get(pk=conversation.pk)


@transaction.atomic
def conversation_open(
    *,
    patient: Patient,
    kind: str = Conversation.Kind.QUESTION,
    subject: str = "",
    site: Site | None = None,
    team: Team | None = None,
    channel: str = "inapp",
    awaiting: bool = True,
    now: datetime.datetime | None = None,
) -> Conversation:
    """Open a conversation with ``patient``; ``awaiting`` when the patient
    (or their feedback) waits for an answer, which starts the SLA clock."""
    now = now or timezone.now()
    for related in (site, team):
        if related is not None and related.organization_id != patient.organization_id:
            raise ValueError("The site or team belongs to another organization.")
    return Conversation.objects.create(
        organization_id=patient.organization_id,
        patient=patient,
        kind=kind,
        subject=subject[:200],
        site=site,
        team=team,
        channel=channel,
        last_message_at=now,
        awaiting_since=now if awaiting else None,
        first_response_due_at=first_response_due(now) if awaiting else None,
    )


# --- The patient writes --------------------------------------------------------------


def _reopenable(conversation: Conversation, now: datetime.datetime) -> bool:
    window = datetime.timedelta(days=settings.CONVERSATION_REOPEN_DAYS)
    return conversation.closed_at is None or conversation.closed_at >= now - window


@transaction.atomic
def conversation_patient_wrote(
    *,
    patient: Patient,
    channel: str,
    now: datetime.datetime,
    conversation: Conversation | None = None,
    subject: str = "",
    join_latest: bool = True,
) -> Conversation:
    """The conversation a patient's new message joins, with its fields updated.

    ``conversation``: the one the patient answers in (a portal reply); else,
    with ``join_latest`` (an SMS), the patient's latest open or waiting
    conversation, else their latest closed one; without it (a reply to a
    message outside any conversation), a new one. A closed conversation closed less than
    ``CONVERSATION_REOPEN_DAYS`` ago is reopened (``reopened_count`` + 1);
    an older one is left closed and a new conversation starts (same subject),
    so the dashboard's resolution figures are not rewritten months later.

    The message itself is the caller's to store; staff pages are notified
    after commit.
    """
    if conversation is None and join_latest:
        conversation = (
            Conversation.objects.for_organization(patient.organization_id)
            .filter(patient=patient, status__in=OPEN_STATUSES)
            .order_by("-last_message_at", "-pk")
            .first()
        ) or (
            Conversation.objects.for_organization(patient.organization_id)
            .filter(patient=patient, status=Conversation.Status.CLOSED)
            .order_by("-closed_at", "-pk")
            .first()
        )
    if conversation is not None:
        conversation = _locked(conversation)
        if conversation.patient_id != patient.pk:
            raise ValueError("The conversation belongs to another patient.")
        if conversation.status == Conversation.Status.CLOSED and not _reopenable(
            conversation, now
        ):
            subject = subject or conversation.subject
            conversation = None
    if conversation is None:
        conversation = conversation_open(
            patient=patient, subject=subject, channel=channel, now=now
        )
        conversation_changed_notify(conversation)
        return conversation
    if conversation.status == Conversation.Status.CLOSED:
        conversation.reopened_count += 1
    conversation.status = Conversation.Status.OPEN
    conversation.channel = channel
    conversation.last_message_at = now
    if conversation.awaiting_since is None:
        conversation.awaiting_since = now
    if (
        conversation.first_response_at is None
        and conversation.first_response_due_at is None
    ):
        conversation.first_response_due_at = first_response_due(now)
    conversation.save(
        update_fields=[
            "status",
            "channel",
            "last_message_at",
            "awaiting_since",
            "first_response_due_at",
            "reopened_count",
        ]
    )
    conversation_changed_notify(conversation)
    return conversation


# --- Staff reply ------------------------------------------------------------------


def reply_topic(conversation: Conversation) -> Topic:
    """The topic a staff reply is sent on: a care topic (replies are care,
    never marketing or a survey, whose caps could hold them back), the
    conversation's latest one when it may use the patient's channel, else
    the organization's first care topic that may (by slug), else its first
    care topic. Raises ConversationError when the organization has none."""
    care = Topic.objects.for_organization(conversation.organization_id).filter(
        purpose=Purpose.CARE
    )
    latest = (
        Message.objects.filter(conversation=conversation, topic__purpose=Purpose.CARE)
        .select_related("topic")
        .order_by("-created_at", "-pk")
        .first()
    )
    candidates = ([latest.topic] if latest else []) + list(care.order_by("slug"))
    for topic in candidates:
        if conversation.channel in topic.channels:
            return topic
    if candidates:
        return candidates[0]
    raise ConversationError("This organization has no care topic to reply on.")


def reply_channels(conversation: Conversation, topic: Topic) -> list[str]:
    """Where a staff reply goes: the secure inbox always, and the channel the
    patient last wrote on when the topic may use it. A confidential reply
    keeps its text in the inbox; that channel then carries only the notice
    ("you have a new secure message", with the authenticity code)."""
    channel = conversation.channel
    if channel == Channel.INAPP or channel not in topic.channels:
        return [Channel.INAPP]
    return [Channel.INAPP, channel]


@transaction.atomic
def conversation_reply(
    *,
    conversation: Conversation,
    staff_user: Any,
    text: str,
    confidential: bool = False,
    close: bool = False,
    idempotency_key: str = "",
    now: datetime.datetime | None = None,
) -> Message:
    """Send ``text`` to the patient as the clinic's reply in ``conversation``.

    Sent through ``message_send`` (consent decides each channel) on the
    channels ``reply_channels`` names; ``confidential`` keeps the text to the
    portal inbox. Records the first response, counts the reply, clears
    ``awaiting_since`` and sets the status to pending (waiting for the
    patient), or closed with ``close``; a closed conversation stays closed.
    ``idempotency_key`` (the form's) makes a double submit send once.
    Raises ConversationError (empty or too long text) or PermissionDenied
    (staff of another organization).
    """
    from messaging.services.sending import message_send

    _check_actor(conversation, staff_user)
    text = _cleaned(text, REPLY_MAX_LENGTH, "The reply is empty.")
    key = f"staff-reply:{idempotency_key}" if idempotency_key else ""
    if key:
        sent = Message.objects.filter(
            organization_id=conversation.organization_id, idempotency_key=key
        ).first()
        if sent is not None:
            return sent
    now = now or timezone.now()
    conversation = _locked(conversation)
    topic = reply_topic(conversation)
    message = message_send(
        patient=conversation.patient,
        topic=topic,
        origin=Message.Origin.STAFF,
        text=text,
        subject=conversation.subject,
        confidential=confidential,
        idempotency_key=key,
        sender=staff_user,
        conversation=conversation,
        channels=reply_channels(conversation, topic),
        at=now,
    )
    conversation_answered(
        conversation=conversation, message=message, close=close, now=now
    )
    return message


@transaction.atomic
def conversation_answered(
    *,
    conversation: Conversation,
    message: Message,
    close: bool = False,
    now: datetime.datetime | None = None,
) -> Conversation:
    """Record that the clinic answered in ``conversation`` with ``message``
    (sent by staff here, or by a partner system through the API): the first
    response, the reply count, nobody waiting any more, the status."""
    now = now or timezone.now()
    conversation = _locked(conversation)
    conversation.first_response_at = conversation.first_response_at or now
    conversation.staff_reply_count += 1
    conversation.awaiting_since = None
    conversation.last_message_at = now
    fields = ["first_response_at", "staff_reply_count", "awaiting_since"]
    if close:
        conversation.status = Conversation.Status.CLOSED
        conversation.closed_at = now
        fields.append("closed_at")
    elif conversation.status != Conversation.Status.CLOSED:
        conversation.status = Conversation.Status.PENDING
    conversation.save(update_fields=[*fields, "status", "last_message_at"])
    conversation_changed_notify(conversation)
    # The inbox delivery notifies too once a worker sends it; the page need
    # not wait for the worker.
    notify_on_commit(
        patient_group(conversation.patient_id),
        {"type": "inbox.message", "message": str(message.public_id)},
    )
    return conversation


# --- Assignment, status, notes -------------------------------------------------------


@transaction.atomic
def conversation_assign(
    *,
    conversation: Conversation,
    by: Any,
    assignee: Any = None,
    team: Team | None = None,
) -> Conversation:
    """Assign ``conversation`` to ``assignee`` (a user who is a staff member
    of the same organization) and/or ``team`` (of the same organization);
    None unassigns. Raises ConversationError for anyone or any team of
    another organization."""
    _check_actor(conversation, by)
    if (
        assignee is not None
        and not StaffMember.objects.for_organization(conversation.organization_id)
        .filter(user=assignee)
        .exists()
    ):
        raise ConversationError("Assign to a staff member of this organization.")
    if team is not None and team.organization_id != conversation.organization_id:
        raise ConversationError("Assign to a team of this organization.")
    conversation = _locked(conversation)
    conversation.assigned_to = assignee
    conversation.team = team
    conversation.save(update_fields=["assigned_to", "team"])
    conversation_changed_notify(conversation)
    return conversation


@transaction.atomic
def conversation_status_set(
    *,
    conversation: Conversation,
    status: str,
    by: Any,
    now: datetime.datetime | None = None,
) -> Conversation:
    """Close, reopen (open) or mark as waiting for the patient (pending).

    Closing records ``closed_at`` and clears ``awaiting_since`` (nobody waits
    on a closed conversation). Staff reopening is not counted in
    ``reopened_count``, which counts patients coming back."""
    _check_actor(conversation, by)
    if status not in Conversation.Status.values:
        raise ConversationError("Unknown status.")
    now = now or timezone.now()
    conversation = _locked(conversation)
    if conversation.status == status:
        return conversation
    conversation.status = status
    fields = ["status"]
    if status == Conversation.Status.CLOSED:
        conversation.closed_at = now
        conversation.awaiting_since = None
        fields += ["closed_at", "awaiting_since"]
    conversation.save(update_fields=fields)
    conversation_changed_notify(conversation)
    return conversation


@transaction.atomic
def conversation_note_add(
    *, conversation: Conversation, author: Any, body: str
) -> ConversationNote:
    """An internal note for colleagues: never sent to the patient."""
    _check_actor(conversation, author)
    body = _cleaned(body, NOTE_MAX_LENGTH, "The note is empty.")
    note = ConversationNote.objects.create(
        conversation=conversation, author=author, body=body
    )
    conversation_changed_notify(conversation)
    return note


# --- Saved replies ------------------------------------------------------------------


def saved_reply_context(conversation: Conversation) -> dict[str, object]:
    """The values a saved reply may use: the patient's names, the clinic's
    name, the portal link, and the site, date and time of the patient's next
    appointment (in their time zone and language) when there is one."""
    from django.utils import formats, translation

    patient = conversation.patient
    extra: dict[str, object] = {}
    upcoming = (
        Appointment.objects.for_organization(conversation.organization_id)
        .filter(patient=patient, starts_at__gte=timezone.now())
        .exclude(status=AppointmentStatus.CANCELLED)
        .select_related("site")
        .order_by("starts_at")
        .first()
    )
    if upcoming is not None:
        local = timezone.localtime(upcoming.starts_at, ZoneInfo(patient.time_zone))
        with translation.override(patient.preferred_language):
            extra["appointment_date"] = formats.date_format(local, "SHORT_DATE_FORMAT")
            extra["appointment_time"] = formats.time_format(local, "TIME_FORMAT")
        extra["site_name"] = upcoming.site.name
    elif conversation.site_id:
        extra["site_name"] = conversation.site.name
    return context_for(patient, extra)


def saved_reply_render(*, saved_reply: SavedReply, conversation: Conversation) -> str:
    """The saved reply's text with this conversation's values."""
    if saved_reply.organization_id != conversation.organization_id:
        raise ConversationError("This saved reply belongs to another organization.")
    return render(saved_reply.body, saved_reply_context(conversation))

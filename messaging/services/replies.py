"""A patient's answer from the portal: an inbound message in the staff conversation."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from clinic.models import Patient
from consent.vocabulary import Channel
from core.live import notify_on_commit
from messaging.backends.inapp import patient_group
from messaging.models import Message, Sensitivity
from messaging.services.conversations import conversation_patient_wrote
from messaging.signals import message_received

REPLY_MAX_LENGTH = 5000


class ReplyError(ValueError):
    """The reply cannot be stored (empty or too long)."""


def _inbox_notify_on_commit(message: Message) -> None:
    """Tell the patient's other open pages to re-read the inbox (ids only)."""
    notify_on_commit(
        patient_group(message.patient_id),
        {"type": "inbox.message", "message": str(message.public_id)},
    )


@transaction.atomic
def message_reply(
    *,
    patient: Patient,
    message: Message,
    text: str,
    sender: Any = None,
    sender_label: str = "",
) -> Message:
    """Store ``text`` as the patient's answer to ``message`` and return it.

    The answer is an inbound, confidential Message (no deliveries) in the
    message's conversation (``conversation_patient_wrote``: reopened when
    closed within ``CONVERSATION_REOPEN_DAYS``, else a new one); a message
    outside any conversation gets one, so staff see question and answer
    together.
    ``message`` must belong to ``patient``. Raises ReplyError for an empty or
    too long text. Sends ``messaging.signals.message_received``; open portal
    pages are notified after commit.
    """
    if message.patient_id != patient.pk:
        raise ValueError("The message belongs to another patient.")
    text = (text or "").strip()
    if not text:
        raise ReplyError("The reply is empty.")
    if len(text) > REPLY_MAX_LENGTH:
        raise ReplyError("The reply is too long.")
    now = timezone.now()
    conversation = conversation_patient_wrote(
        patient=patient,
        channel=Channel.INAPP,
        now=now,
        conversation=message.conversation,
        subject=message.subject,
        join_latest=False,
    )
    if message.conversation_id is None:
        Message.objects.filter(pk=message.pk).update(conversation=conversation)
        message.conversation = conversation
    reply = Message(
        organization_id=patient.organization_id,
        patient=patient,
        topic_id=message.topic_id,
        conversation=conversation,
        sender=sender,
        origin=Message.Origin.PATIENT,
        origin_ref=("portal " + sender_label).strip()[:200],
        direction=Message.Direction.INBOUND,
        # What a patient writes may be clinical: keep it to the inbox.
        sensitivity=Sensitivity.CONFIDENTIAL,
        language=patient.preferred_language,
        subject=message.subject,
        body=text,
        free_text=True,
        created_at=now,
    )
    reply.save()
    message_received.send(sender=Message, message=reply, channel=Channel.INAPP)
    _inbox_notify_on_commit(reply)
    return reply

"""The thread a message belongs to, as the send pipeline sees it.

A message may belong to a conversation (``Message.conversation``), which the
staff desk owns: ``conversations.Conversation``, in an app above messaging in
the layer order (docs/architecture.md). The pipeline does not import the desk.
It reaches the model through its own foreign key (``thread_model``), and it
hands a patient's message to the desk through ``core.hooks``: the desk
provides ``conversations.patient_wrote`` when Django starts
(``ConversationsConfig.ready``).
"""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import models

from clinic.models import Patient
from core import hooks
from messaging.models import Message

#: ``(*, patient, channel, now, conversation=None, subject="",
#: join_latest=True) -> conversation``: ``conversation_patient_wrote``.
PATIENT_WROTE = "conversations.patient_wrote"


def thread_model() -> type[models.Model]:
    """The model ``Message.conversation`` points at (the desk's Conversation)."""
    return Message._meta.get_field("conversation").related_model


def patient_wrote(
    *,
    patient: Patient,
    channel: str,
    now: datetime.datetime,
    conversation: Any = None,
    subject: str = "",
    join_latest: bool = True,
) -> Any:
    """The conversation a patient's new message joins, as the desk decides
    (``conversations.services.conversation_patient_wrote``: the arguments and
    side effects are its own). Raises ImproperlyConfigured when no app
    provides it."""
    handler = hooks.provider(PATIENT_WROTE)
    if handler is None:
        raise ImproperlyConfigured(
            f"No app provides {PATIENT_WROTE}: is 'conversations' installed?"
        )
    return handler(
        patient=patient,
        channel=channel,
        now=now,
        conversation=conversation,
        subject=subject,
        join_latest=join_latest,
    )

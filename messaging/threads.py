"""The thread a message belongs to, as the send pipeline sees it.

A message may belong to a conversation (``Message.conversation``), which the
staff desk owns: ``conversations.Conversation``, in an app above messaging in
the layer order (docs/architecture.md). The pipeline does not import the desk.
It reaches the model through its own foreign key (``thread_model``), and it
hands a patient's message to the desk through the function the desk registers
when Django starts (``conversations.apps``: ``patient_wrote_register``).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import models

from clinic.models import Patient
from messaging.models import Message

#: ``(*, patient, channel, now, conversation=None, subject="",
#: join_latest=True) -> conversation``: ``conversation_patient_wrote``.
PatientWrote = Callable[..., Any]

_patient_wrote: PatientWrote | None = None


def thread_model() -> type[models.Model]:
    """The model ``Message.conversation`` points at (the desk's Conversation)."""
    return Message._meta.get_field("conversation").related_model


def patient_wrote_register(handler: PatientWrote) -> PatientWrote:
    """Make ``handler`` the one that files a patient's message; returns it."""
    global _patient_wrote  # one per process, set when Django starts
    _patient_wrote = handler
    return handler


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
    side effects are its own). Raises ImproperlyConfigured when no desk
    registered a handler."""
    if _patient_wrote is None:
        raise ImproperlyConfigured(
            "No handler files patients' messages: is 'conversations' in INSTALLED_APPS?"
        )
    return _patient_wrote(
        patient=patient,
        channel=channel,
        now=now,
        conversation=conversation,
        subject=subject,
        join_latest=join_latest,
    )

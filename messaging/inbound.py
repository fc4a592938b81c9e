"""SMS from patients: keywords go to consent, anything else joins a conversation.

Organizations have no sender number of their own yet, so an inbound SMS is
matched through the patient's phone: every organization with a patient at
that number receives it.
"""

from __future__ import annotations

import datetime
import importlib
import logging
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone

from clinic.models import Organization, Patient
from consent.models import Topic
from consent.vocabulary import Channel, Purpose
from messaging.models import Conversation, Message, Sensitivity

logger = logging.getLogger(__name__)


def _keyword_handler() -> Callable[..., Any] | None:
    """``consent.keywords.sms_keyword_handle`` when that module exists."""
    try:
        module = importlib.import_module("consent.keywords")
    except ModuleNotFoundError as exc:
        if exc.name != "consent.keywords":
            raise  # a missing import inside the module is a bug, not absence
        return None
    return getattr(module, "sms_keyword_handle", None)


def _patients_by_organization(from_number: str) -> dict[Organization, Patient]:
    """One patient per organization for this number: the one most recently
    texted at it (a parent's phone may be on several children's records)."""
    patients = (
        Patient.objects.filter(phone=from_number, erased_at__isnull=True)
        .select_related("organization")
        .annotate(
            last_sms=Max(
                "messages__deliveries__sent_at",
                # Only SMS sent to this very number say who is answering.
                filter=Q(
                    messages__deliveries__channel=Channel.SMS,
                    messages__deliveries__address=from_number,
                ),
            )
        )
    )
    chosen: dict[Organization, Patient] = {}
    for patient in sorted(patients, key=_most_recently_texted):
        chosen.setdefault(patient.organization, patient)
    return chosen


def _most_recently_texted(patient: Patient) -> tuple[bool, float, int]:
    last = patient.last_sms
    return (last is None, -last.timestamp() if last else 0.0, patient.pk)


def _conversation_for(patient: Patient, now: datetime.datetime) -> Conversation:
    """The patient's latest conversation still open or waiting for them."""
    conversation = (
        Conversation.objects.filter(
            patient=patient,
            status__in=[Conversation.Status.OPEN, Conversation.Status.PENDING],
        )
        .order_by("-last_message_at")
        .first()
    )
    if conversation is None:
        return Conversation.objects.create(
            organization_id=patient.organization_id,
            patient=patient,
            last_message_at=now,
        )
    Conversation.objects.filter(pk=conversation.pk).update(
        status=Conversation.Status.OPEN, last_message_at=now
    )
    return conversation


def _store(
    *, patient: Patient, text: str, provider: str, provider_message_id: str
) -> Message | None:
    topic = (
        Topic.objects.filter(
            organization_id=patient.organization_id, purpose=Purpose.CARE
        )
        .order_by("slug")
        .first()
    )
    if topic is None:
        logger.warning(
            "inbound sms %s:%s: organization %s has no care topic",
            provider,
            provider_message_id,
            patient.organization_id,
        )
        return None
    # The provider's id makes a retried webhook store nothing new.
    key = f"inbound:{provider}:{provider_message_id}"
    now = timezone.now()
    try:
        with transaction.atomic():
            return Message.objects.create(
                organization_id=patient.organization_id,
                patient=patient,
                topic=topic,
                conversation=_conversation_for(patient, now),
                origin=Message.Origin.PATIENT,
                direction=Message.Direction.INBOUND,
                idempotency_key=key,
                # What a patient writes may be clinical: keep it to the inbox.
                sensitivity=Sensitivity.CONFIDENTIAL,
                language=patient.preferred_language,
                body=text,
                free_text=True,
                created_at=now,
            )
    except IntegrityError:
        return Message.objects.filter(
            organization_id=patient.organization_id, idempotency_key=key
        ).first()


def inbound_sms_receive(
    *,
    provider: str,
    to_number: str,
    from_number: str,
    text: str,
    provider_message_id: str,
) -> str | None:
    """Take one SMS from a patient; return the reply to send back, or None.

    A keyword (STOP, START, HELP… as ``consent.keywords`` knows them) is
    handled by consent for every organization with a patient at that number,
    and its required reply returned. Any other text becomes an inbound
    Message (no deliveries) in each such patient's open conversation, created
    when there is none. A number that matches no patient is logged (without
    the number or the text) and dropped, for want of an unmatched queue.
    ``to_number`` is unused until organizations have sender numbers.
    """
    chosen = _patients_by_organization(from_number) if from_number else {}
    if not chosen:
        logger.warning(
            "inbound sms %s:%s matches no patient", provider, provider_message_id
        )
        return None
    handle = _keyword_handler()
    if handle is not None:
        replies = [
            handle(organization=organization, from_number=from_number, text=text)
            for organization in chosen
        ]
        handled = [result for result in replies if result is not None]
        if handled:
            return next((r.reply for r in handled if getattr(r, "reply", "")), None)
    for patient in chosen.values():
        message = _store(
            patient=patient,
            text=text,
            provider=provider,
            provider_message_id=provider_message_id,
        )
        if message is not None:
            logger.info(
                "inbound sms %s:%s stored as message %s",
                provider,
                provider_message_id,
                message.public_id,
            )
    return None

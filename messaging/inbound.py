"""SMS from patients: keywords go to consent, anything else joins a conversation.

An inbound SMS belongs to the organization whose ``sms_number`` it was sent
to; when no organization has that number (a shared provider number), it is
matched through the patient's phone in every organization with a patient at
that number. A number matching no patient lands in the unmatched queue.

Other apps answer some replies themselves (an appointment reminder's "C" or
"ANNULER") through ``register_reply_handler``, so messaging never imports
them; consent keywords always come first.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone

from clinic.models import Organization, Patient
from consent.keywords import sms_keyword_handle
from consent.models import Topic
from consent.vocabulary import Channel, Purpose
from messaging.models import Conversation, Message, Sensitivity, UnmatchedInbound
from messaging.services import message_mark_read
from messaging.services.conversations import conversation_patient_wrote
from messaging.signals import message_received

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class InboundSms:
    """One SMS from a patient, as reply handlers see it."""

    patient: Patient
    text: str
    from_number: str
    provider: str
    provider_message_id: str


#: Takes an SMS that is not a consent keyword; returns True when it dealt
#: with it (it then joins no conversation). Must be idempotent per
#: ``provider_message_id``: providers retry webhooks.
ReplyHandler = Callable[[InboundSms], bool]
_reply_handlers: list[ReplyHandler] = []


def register_reply_handler(handler: ReplyHandler) -> ReplyHandler:
    """Offer every non-keyword SMS to ``handler`` first (from an AppConfig.ready)."""
    if handler not in _reply_handlers:
        _reply_handlers.append(handler)
    return handler


def _reply_handled(sms: InboundSms) -> bool:
    return any(handler(sms) for handler in _reply_handlers)


def _patients_by_organization(
    from_number: str, organization: Organization | None
) -> dict[Organization, Patient]:
    """One patient per organization for this number: the one most recently
    texted at it (a parent's phone may be on several children's records)."""
    patients = Patient.objects.filter(phone=from_number, erased_at__isnull=True)
    if organization is not None:
        patients = patients.for_organization(organization)
    patients = patients.select_related("organization").annotate(
        last_sms=Max(
            "messages__deliveries__sent_at",
            # Only SMS sent to this very number say who is answering.
            filter=Q(
                messages__deliveries__channel=Channel.SMS,
                messages__deliveries__address=from_number,
            ),
        )
    )
    chosen: dict[Organization, Patient] = {}
    for patient in sorted(patients, key=_most_recently_texted):
        chosen.setdefault(patient.organization, patient)
    return chosen


def _most_recently_texted(patient: Patient) -> tuple[bool, float, int]:
    last = patient.last_sms
    return (last is None, -last.timestamp() if last else 0.0, patient.pk)


def _acknowledge(patient: Patient) -> None:
    """An answer acknowledges what the patient was asked to acknowledge: the
    escalation ladders of their unread must-acknowledge messages stop."""
    unread = Message.objects.filter(
        patient=patient,
        direction=Message.Direction.OUTBOUND,
        read_at__isnull=True,
        topic__must_acknowledge=True,
    )
    for message in unread:
        message_mark_read(message=message, channel=Channel.SMS)


def _conversation_for(patient: Patient, now: datetime.datetime) -> Conversation:
    """The conversation an SMS joins: the patient's latest open or waiting one,
    else the last closed one if closed recently (reopened), else a new one
    (``conversation_patient_wrote``); its channel becomes SMS."""
    return conversation_patient_wrote(patient=patient, channel=Channel.SMS, now=now)


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
            message = Message.objects.create(
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
            message_received.send(sender=Message, message=message, channel=Channel.SMS)
            return message
    except IntegrityError:
        return Message.objects.filter(
            organization_id=patient.organization_id, idempotency_key=key
        ).first()


def _keep_unmatched(
    *, organization, provider, to_number, from_number, text, provider_message_id
) -> None:
    logger.warning(
        "inbound sms %s:%s matches no patient", provider, provider_message_id
    )
    UnmatchedInbound.objects.get_or_create(
        provider=provider,
        provider_message_id=provider_message_id,
        defaults={
            "organization": organization,
            "to_number": to_number[:32],
            "from_number": from_number[:32],
            "text": text,
        },
    )


def inbound_sms_receive(
    *,
    provider: str,
    to_number: str,
    from_number: str,
    text: str,
    provider_message_id: str,
) -> str | None:
    """Take one SMS from a patient; return the reply to send back, or None.

    The organization is the one whose ``sms_number`` is ``to_number``, else
    every organization with a patient at ``from_number``. A keyword (STOP,
    START, HELP… as ``consent.keywords`` knows them) is handled by consent
    and its required reply returned. A registered reply handler may take
    any other text (``register_reply_handler``); what none takes becomes an
    inbound Message (no deliveries) in the patient's open conversation (or
    the one closed within ``CONVERSATION_REOPEN_DAYS``, reopened; else a new
    one), and acknowledges their unread must-acknowledge messages.
    A number that matches no patient is kept in ``UnmatchedInbound`` for staff
    (logged without the number or the text).
    """
    organization = (
        Organization.objects.filter(sms_number=to_number).first() if to_number else None
    )
    chosen = _patients_by_organization(from_number, organization) if from_number else {}
    if not chosen:
        _keep_unmatched(
            organization=organization,
            provider=provider,
            to_number=to_number,
            from_number=from_number,
            text=text,
            provider_message_id=provider_message_id,
        )
        return None
    replies = [
        sms_keyword_handle(organization=org, from_number=from_number, text=text)
        for org in chosen
    ]
    handled = [result for result in replies if result is not None]
    if handled:
        return next((r.reply for r in handled if r.reply), None)
    for patient in chosen.values():
        sms = InboundSms(patient, text, from_number, provider, provider_message_id)
        if _reply_handled(sms):
            logger.info(
                "inbound sms %s:%s answered by a reply handler",
                provider,
                provider_message_id,
            )
            continue
        message = _store(
            patient=patient,
            text=text,
            provider=provider,
            provider_message_id=provider_message_id,
        )
        if message is not None:
            _acknowledge(patient)
            logger.info(
                "inbound sms %s:%s stored as message %s",
                provider,
                provider_message_id,
                message.public_id,
            )
    return None

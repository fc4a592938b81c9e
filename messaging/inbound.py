"""SMS from patients: keywords go to consent, anything else joins a conversation.

An inbound SMS belongs to the one organization whose sender identity it was
sent to (number, or Twilio Messaging Service, and provider account); one sent
to a number of no organization, or of several, belongs to none and waits in
the platform queue for superusers. It is never copied into two organizations.
Each SMS takes effect once, whatever the provider's retries (``receipts``).

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
from django.db.models import Max, Model, Q
from django.utils import timezone

from clinic.models import Organization, Patient
from consent.keywords import sms_keyword_handle
from consent.models import Topic
from consent.vocabulary import Channel, Purpose
from messaging.models import (
    InboundReceipt,
    Message,
    Sensitivity,
    UnmatchedInbound,
)
from messaging.receipts.services import inbound_once
from messaging.rendering import sms_text
from messaging.senders.selectors import inbound_organization_ids
from messaging.services import message_mark_read
from messaging.signals import message_received
from messaging.threads import patient_wrote

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
#: with it (it then joins no conversation). Runs inside the SMS's receipt
#: transaction (once per ``provider_message_id``); an exception rolls every
#: effect back and the provider's retry tries again.
ReplyHandler = Callable[[InboundSms], bool]
_reply_handlers: list[ReplyHandler] = []


def register_reply_handler(handler: ReplyHandler) -> ReplyHandler:
    """Offer every non-keyword SMS to ``handler`` first (from an AppConfig.ready)."""
    if handler not in _reply_handlers:
        _reply_handlers.append(handler)
    return handler


def _reply_handled(sms: InboundSms) -> bool:
    return any(handler(sms) for handler in _reply_handlers)


def _patient_at(organization: Organization, from_number: str) -> Patient | None:
    """The organization's patient at this number: the one most recently
    texted at it (a parent's phone may be on several children's records)."""
    patients = (
        Patient.objects.for_organization(organization)
        .filter(phone=from_number, erased_at__isnull=True)
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
    return min(patients, key=_most_recently_texted, default=None)


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


def _conversation_for(patient: Patient, now: datetime.datetime) -> Model:
    """The conversation an SMS joins: the patient's latest open or waiting one,
    else the last closed one if closed recently (reopened), else a new one
    (the desk's ``conversation_patient_wrote``, through ``messaging.threads``);
    its channel becomes SMS."""
    return patient_wrote(patient=patient, channel=Channel.SMS, now=now)


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
    *,
    organization: Organization | None,
    provider: str,
    to_number: str,
    from_number: str,
    text: str,
    provider_message_id: str,
) -> None:
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


@dataclass(frozen=True)
class InboundResult:
    """What one inbound SMS became, for the webhook that took it.

    ``reply``: the text to send back (a keyword's), or None. ``organization_id``:
    the organization it was routed to (a Sinch reply leaves from its
    identity), or None. ``duplicate``: a retry or a concurrent copy of an SMS
    already taken in, which changed nothing and must be answered with nothing.
    """

    reply: str | None = None
    organization_id: int | None = None
    duplicate: bool = False


def inbound_sms_receive(
    *,
    provider: str,
    to_number: str,
    from_number: str,
    text: str,
    provider_message_id: str,
    account_id: str = "",
    messaging_service_sid: str = "",
) -> InboundResult:
    """Take one SMS from a patient, exactly once in effect; return what it became.

    Every effect happens in one transaction that first writes the SMS's
    receipt (``messaging.receipts.services.inbound_once``): a retry of the same
    provider message id, or a copy arriving at the same instant, changes
    nothing and gets no reply (``InboundResult.duplicate``).

    Routing: the organization whose sender identity for ``provider`` receives
    at ``to_number`` (or through ``messaging_service_sid``) on ``account_id``
    when given. None or several: the SMS goes to the platform queue
    (``UnmatchedInbound`` without organization, seen by superusers only),
    never into an organization. In the one organization, the patient at
    ``from_number`` (the one most recently texted at it): a keyword (STOP,
    START, HELP… as ``consent.keywords`` knows them) is handled by consent
    and its required reply returned; a registered reply handler may take any
    other text (``register_reply_handler``); what none takes becomes an
    inbound Message (no deliveries) in the patient's open conversation (or
    the one closed within ``CONVERSATION_REOPEN_DAYS``, reopened; else a new
    one), and acknowledges their unread must-acknowledge messages. No patient
    at that number: the organization's unmatched queue. Logs carry the
    provider's id, never the numbers or the text.
    """
    with inbound_once(
        provider=provider, provider_message_id=provider_message_id
    ) as receipt:
        if receipt is None:
            return InboundResult(duplicate=True)
        organization_ids = inbound_organization_ids(
            provider=provider,
            to_number=to_number,
            account_id=account_id,
            messaging_service_sid=messaging_service_sid,
        )
        unmatched = {
            "provider": provider,
            "to_number": to_number,
            "from_number": from_number,
            "text": text,
            "provider_message_id": provider_message_id,
        }
        if len(organization_ids) != 1:
            logger.warning(
                "inbound sms %s:%s sent to a number of %d organizations: "
                "platform queue",
                provider,
                provider_message_id,
                len(organization_ids),
            )
            _keep_unmatched(organization=None, **unmatched)
            receipt.outcome = InboundReceipt.Outcome.PLATFORM
            return InboundResult()
        organization = Organization.objects.get(pk=organization_ids.pop())
        receipt.organization = organization
        patient = _patient_at(organization, from_number) if from_number else None
        if patient is None:
            logger.warning(
                "inbound sms %s:%s matches no patient", provider, provider_message_id
            )
            _keep_unmatched(organization=organization, **unmatched)
            receipt.outcome = InboundReceipt.Outcome.UNMATCHED
            return InboundResult(organization_id=organization.pk)
        receipt.outcome, reply = _patient_wrote(
            patient,
            InboundSms(patient, text, from_number, provider, provider_message_id),
        )
    # GSM-7 look-alikes: one French apostrophe would make the reply UCS-2,
    # two or three segments instead of one.
    reply = sms_text(reply) if reply else reply
    return InboundResult(reply=reply, organization_id=organization.pk)


def _patient_wrote(patient: Patient, sms: InboundSms) -> tuple[str, str | None]:
    """A keyword, an answer or a message: (the receipt's outcome, the reply)."""
    keyword = sms_keyword_handle(
        organization=patient.organization, from_number=sms.from_number, text=sms.text
    )
    if keyword is not None:
        return InboundReceipt.Outcome.KEYWORD, keyword.reply
    if _reply_handled(sms):
        logger.info(
            "inbound sms %s:%s answered by a reply handler",
            sms.provider,
            sms.provider_message_id,
        )
        return InboundReceipt.Outcome.ANSWER, None
    message = _store(
        patient=patient,
        text=sms.text,
        provider=sms.provider,
        provider_message_id=sms.provider_message_id,
    )
    if message is None:
        return InboundReceipt.Outcome.IGNORED, None
    _acknowledge(patient)
    logger.info(
        "inbound sms %s:%s stored as message %s",
        sms.provider,
        sms.provider_message_id,
        message.public_id,
    )
    return InboundReceipt.Outcome.MESSAGE, None

"""Answers to reminders: an SMS reply (C, OUI, YES, 1 / A, ANNULER, 2) or a
key pressed during a reminder call (1 / 2) confirms or cancels the appointment
and tells the patient so.

CANCEL, STOP and the other consent keywords are never read here: messaging
hands them to consent before any reply handler, and every word of ``ANSWERS``
is checked with ``consent.keywords.keyword_answers_check`` when this module
loads.

An SMS reply carries no reference to the reminder it answers, so it is routed
to the appointment of the patient's most recent reminder that went out by SMS
to the number answering, within ``ANSWERABLE_FOR``, for an appointment that
has not started: the one the patient has just read. A key pressed during a
call names its call (the provider's CallSid), hence its delivery, message
and reminder exactly.
"""

from __future__ import annotations

import datetime
import logging

from django.db.models import Max, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from clinic.appointments.actions import (
    AppointmentActionError,
    appointment_can,
    appointment_cancel,
    appointment_confirm,
)
from clinic.models import AppointmentStatus
from consent.keywords import keyword_answers_check, keyword_normalize
from consent.vocabulary import Channel
from messaging.inbound import InboundSms
from messaging.models import Delivery, DeliveryStatus, Message
from messaging.services import message_send
from outreach.reminders.models import Reminder
from outreach.reminders.planner import appointment_local_values

logger = logging.getLogger(__name__)

CONFIRM, CANCEL = "confirm", "cancel"
#: Whole replies (as ``answer_classify`` normalises them) and what they do.
ANSWERS = {
    "C": CONFIRM,
    "OUI": CONFIRM,
    "YES": CONFIRM,
    "1": CONFIRM,
    "A": CANCEL,
    "ANNULER": CANCEL,
    "2": CANCEL,
}
KEYPAD = {"1": CONFIRM, "2": CANCEL}
# An SMS reminder stays answerable this long after it went out.
ANSWERABLE_FOR = datetime.timedelta(days=14)
_SENT = (DeliveryStatus.SENT, DeliveryStatus.DELIVERED, DeliveryStatus.READ)

keyword_answers_check(ANSWERS, feature="reminder")


def answer_classify(text: str) -> str | None:
    """CONFIRM, CANCEL or None for a whole SMS: case, accents, spaces and a
    trailing "." or "!" do not matter ("oui !", " a ", "Annulér"). Pure."""
    return ANSWERS.get(keyword_normalize(text).replace(" ", ""))


def answerable_reminder(
    *, patient_id: int, from_number: str, now: datetime.datetime
) -> Reminder | None:
    """The reminder an SMS reply from ``from_number`` answers, or None."""
    sms_sent = Q(
        message__deliveries__channel=Channel.SMS,
        message__deliveries__status__in=_SENT,
        message__deliveries__address=from_number,
        message__deliveries__sent_at__gte=now - ANSWERABLE_FOR,
    )
    return (
        Reminder.objects.filter(
            sms_sent,
            status=Reminder.Status.SENT,
            appointment__patient_id=patient_id,
            appointment__starts_at__gt=now,
        )
        .annotate(last_sent=Max("message__deliveries__sent_at", filter=sms_sent))
        .select_related("appointment__organization", "appointment__patient", "rule")
        .order_by("-last_sent", "-pk")
        .first()
    )


def _act(reminder: Reminder, action: str) -> str:
    """Confirm or cancel the reminder's appointment; returns what to tell the
    patient, in their language. No health data: no kind, no reason."""
    appointment = reminder.appointment
    patient = appointment.patient
    values = appointment_local_values(
        appointment,
        patient.preferred_language,
        patient.time_zone or appointment.organization.time_zone,
    )
    values["organization"] = appointment.organization.name
    done = False
    if appointment_can(appointment=appointment, action=action):
        try:
            if action == CONFIRM:
                appointment_confirm(appointment=appointment)
            else:
                appointment_cancel(appointment=appointment)
            done = True
        except AppointmentActionError:
            appointment.refresh_from_db()
    logger.info(
        "reminder %s answered: %s (%s)",
        reminder.pk,
        action,
        "done" if done else appointment.status,
    )
    with translation.override(patient.preferred_language):
        if action == CONFIRM and (
            done or appointment.status == AppointmentStatus.CONFIRMED
        ):
            text = _(
                "%(organization)s: thank you, your appointment on %(appointment_date)s "
                "at %(appointment_time)s is confirmed."
            )
        elif action == CANCEL and (
            done or appointment.status == AppointmentStatus.CANCELLED
        ):
            text = _(
                "%(organization)s: your appointment on %(appointment_date)s at "
                "%(appointment_time)s is cancelled. Contact us to book another one."
            )
        else:
            text = _(
                "%(organization)s: this appointment can no longer be changed by "
                "reply. Please contact us."
            )
        return text % values


def reminder_sms_answer(sms: InboundSms) -> bool:
    """Reply handler (``messaging.inbound``): act on an answer to a reminder
    and answer the patient by SMS through the pipeline. Returns False for
    any other text, or when no reminder is answerable (it then joins the
    conversation as any message does). A provider's retry changes nothing:
    the answer's idempotency key is the provider's message id."""
    action = answer_classify(sms.text)
    if action is None:
        return False
    key = f"reminder-answer:{sms.provider}:{sms.provider_message_id}"
    if Message.objects.filter(
        organization_id=sms.patient.organization_id, idempotency_key=key
    ).exists():
        return True
    reminder = answerable_reminder(
        patient_id=sms.patient.pk, from_number=sms.from_number, now=timezone.now()
    )
    if reminder is None:
        return False
    text = _act(reminder, action)
    message_send(
        patient=reminder.appointment.patient,
        topic=reminder.rule.topic,
        origin=Message.Origin.REMINDER,
        origin_ref=f"answer to reminder {reminder.pk}",
        text=text,
        idempotency_key=key,
        channels=[Channel.SMS],
    )
    return True


def reminder_keypad_answer(delivery: Delivery, digit: str) -> str | None:
    """Keypad handler (``messaging.webhooks``): 1 confirms, 2 cancels the
    appointment of the reminder this call carried; returns what the call
    says back, or None when the call was no reminder or the key means nothing."""
    action = KEYPAD.get(digit)
    if action is None or delivery.channel != Channel.VOICE:
        return None
    reminder = (
        Reminder.objects.filter(message_id=delivery.message_id, status="sent")
        .select_related("appointment__organization", "appointment__patient")
        .first()
    )
    if reminder is None:
        return None
    return _act(reminder, action)

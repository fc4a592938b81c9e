"""The due finder for reminders: claim what is due, check again, plan its message
(the delivery workers send it), mark.

Registered with ``core.scheduler.register_due("reminders", ...)``. Each
batch is one transaction: due rows are claimed with ``SELECT … FOR UPDATE
SKIP LOCKED`` (their appointments locked too, so a cancellation being
committed right now is waited for by the next tick rather than raced), each is
checked again, sent through ``messaging.services.message_send`` and marked
sent before the locks are released. A second cluster running the same job at
the same time skips the locked rows, and finds them sent afterwards: each
reminder is planned once.

Reminders go one ``message_send`` each, not through ``message_send_many``:
every reminder has its own context (its appointment's date and one-tap
links), and the bulk form takes one context for every patient.
"""

from __future__ import annotations

import datetime
import logging
import zoneinfo
from collections import defaultdict

from django.conf import settings
from django.db import connection, transaction
from django.utils import formats, timezone, translation

from clinic.appointments.tokens import appointment_action_url
from clinic.models import Appointment, AppointmentStatus
from consent.vocabulary import Channel
from messaging.models import Message
from messaging.services import message_send
from outreach.reminders.models import Reminder, ReminderReason
from outreach.reminders.services import appointment_closing_reason

logger = logging.getLogger(__name__)
Status = Reminder.Status
BATCH_SIZE = 100
# One tick sends at most this many batches; the rest waits a minute.
MAX_BATCHES = 50


def appointment_local_values(
    appointment: Appointment, language: str, time_zone: str
) -> dict[str, str]:
    """The appointment's date and time as the patient reads them: in their
    own time zone and their language's format (12/03/2026 14:30 in French,
    03/12/2026 2:30 p.m. in English)."""
    local = appointment.starts_at.astimezone(zoneinfo.ZoneInfo(time_zone))
    with translation.override(language):
        return {
            "appointment_date": formats.date_format(local, "SHORT_DATE_FORMAT"),
            "appointment_time": formats.time_format(local, "TIME_FORMAT"),
        }


def reminder_context(reminder: Reminder) -> dict[str, str]:
    """The template values of a reminder (see ``appointment_reminder_context``)."""
    return appointment_reminder_context(reminder.appointment)


def appointment_reminder_context(appointment: Appointment) -> dict[str, str]:
    """The template values of a reminder of ``appointment``. Never the
    appointment's kind: it is clinical, and SMS, email and voice templates
    are public."""
    patient = appointment.patient
    practitioner = appointment.practitioner
    return {
        **appointment_local_values(
            appointment,
            patient.preferred_language,
            patient.time_zone or appointment.organization.time_zone,
        ),
        "site_name": appointment.site.name,
        "practitioner_name": str(practitioner) if practitioner else "",
        "confirm_link": settings.SITE_URL
        + appointment_action_url(appointment, "confirm"),
        "cancel_link": settings.SITE_URL
        + appointment_action_url(appointment, "cancel"),
    }


def _claim(now: datetime.datetime, size: int) -> list[Reminder]:
    due = Reminder.objects.due(now).order_by("due_at", "pk")
    if connection.features.has_select_for_update_skip_locked:
        due = due.select_for_update(skip_locked=True, of=("self", "appointment"))
    return list(
        due.select_related(
            "rule__topic",
            "appointment__patient__organization",
            "appointment__site",
            "appointment__organization",
        )[:size]
    )


def _check(reminder: Reminder, now: datetime.datetime) -> str | None:
    """Why a due reminder must not go out now, or None to send it."""
    appointment = reminder.appointment
    closing = appointment_closing_reason(appointment, now)
    if closing:
        return closing
    if not reminder.rule.is_active:
        return ReminderReason.RULE_INACTIVE
    if (
        reminder.rule.only_if_unconfirmed
        and appointment.status != AppointmentStatus.BOOKED
    ):
        return ReminderReason.CONFIRMED
    return None


def _superseded(claimed: list[Reminder]) -> set[int]:
    """Of several due reminders of one appointment and rule (the finder was
    down, say), only the latest goes out: "in 2 hours" makes "in 48 hours"
    pointless."""
    groups: dict[tuple[int, int], list[Reminder]] = defaultdict(list)
    for reminder in claimed:
        groups[(reminder.appointment_id, reminder.rule_id)].append(reminder)
    return {
        r.pk
        for group in groups.values()
        for r in sorted(group, key=lambda r: r.due_at)[:-1]
    }


def _send(reminder: Reminder, now: datetime.datetime) -> Message | None:
    rule = reminder.rule
    try:
        with transaction.atomic():
            return message_send(
                patient=reminder.appointment.patient,
                topic=rule.topic,
                origin=Message.Origin.REMINDER,
                origin_ref=f"reminder rule {rule.pk}: {rule.name}",
                context=reminder_context(reminder),
                idempotency_key=f"reminder:{reminder.pk}",
                channels=[Channel.INAPP, rule.channel] if rule.channel else None,
                at=now,
            )
    except ValueError as error:  # no template, topic of another organization…
        logger.warning(
            "reminder %s not sendable: %s", reminder.pk, type(error).__name__
        )
        return None


def _send_batch(now: datetime.datetime, size: int) -> tuple[int, int]:
    """One claimed batch, in one transaction; returns (claimed, sent)."""
    with transaction.atomic():
        claimed = _claim(now, size)
        if not claimed:
            return 0, 0
        practitioners = {
            a.pk: a.practitioner
            for a in Appointment.objects.filter(
                pk__in={r.appointment_id for r in claimed}
            ).select_related("practitioner__user")
        }
        superseded = _superseded(claimed)
        sent = 0
        for reminder in claimed:
            reminder.appointment.practitioner = practitioners[reminder.appointment_id]
            reason = _check(reminder, now)
            if reason is None and reminder.pk in superseded:
                reason = ReminderReason.SUPERSEDED
            message = None if reason else _send(reminder, now)
            if message is not None:
                logger.info("reminder %s sent as message %s", reminder.pk, message.pk)
                reminder.status, reminder.message, reminder.sent_at = (
                    Status.SENT,
                    message,
                    now,
                )
                sent += 1
            else:
                reminder.status = (
                    Status.CANCELLED
                    if reason
                    in (
                        ReminderReason.APPOINTMENT_CANCELLED,
                        ReminderReason.APPOINTMENT_CLOSED,
                        ReminderReason.APPOINTMENT_PAST,
                        ReminderReason.RULE_INACTIVE,
                    )
                    else Status.SKIPPED
                )
                reminder.reason = reason or ReminderReason.NOT_SENDABLE
            reminder.updated_at = now
        Reminder.objects.bulk_update(
            claimed, ["status", "reason", "message", "sent_at", "updated_at"]
        )
    return len(claimed), sent


def reminders_send_due(
    now: datetime.datetime | None = None,
    *,
    batch_size: int = BATCH_SIZE,
    max_batches: int = MAX_BATCHES,
) -> int:
    """Send every pending reminder due at ``now``; returns how many were sent.

    Checked again at send time: a reminder of a cancelled, closed or started
    appointment is cancelled; one of a rule sending only to the unconfirmed
    is skipped once the patient confirmed. Safe to run on several clusters
    at once (see the module docstring).
    """
    now = now or timezone.now()
    total = 0
    for _batch in range(max_batches):
        claimed, sent = _send_batch(now, batch_size)
        total += sent
        if claimed < batch_size:
            break
    return total

"""Planning appointment reminders: which Reminder rows exist, and when they are due.

One function, ``_sync``, makes the pending reminders of a page of appointments
agree with the active rules: it creates what is missing, moves what changed
(a moved appointment, an edited rule) and cancels what no longer applies (a
cancelled or past appointment, a deactivated rule). It is run

- for one appointment, on ``clinic.signals.appointment_changed``, inside the
  transaction that changed it (admin, API, import, portal, SMS answer), so
  reminders follow an appointment "at once";
- for every future appointment of an organization, page by page, when staff
  save a rule (``reminder_rule_save``).

Sent reminders are history: nothing here ever changes them.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable, Iterator

from django.db import transaction
from django.utils import timezone

from clinic.models import Appointment, AppointmentStatus
from outreach.reminders.models import Reminder, ReminderReason, ReminderRule

Status = Reminder.Status
PAGE_SIZE = 500
# Appointments that still take place: the others get no reminder.
OPEN_STATUSES = (AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED)


def appointment_closing_reason(
    appointment: Appointment, now: datetime.datetime
) -> str | None:
    """Why an appointment can have no pending reminder, or None if it can."""
    if appointment.status == AppointmentStatus.CANCELLED:
        return ReminderReason.APPOINTMENT_CANCELLED
    if appointment.status not in OPEN_STATUSES:
        return ReminderReason.APPOINTMENT_CLOSED
    if appointment.starts_at <= now:
        return ReminderReason.APPOINTMENT_PAST
    return None


def _wanted(
    appointment: Appointment, rules: Iterable[ReminderRule]
) -> dict[tuple[int, str], tuple[ReminderRule, datetime.datetime]]:
    """(rule id, offset key) → (rule, due_at) for every active rule that applies."""
    time_zone = appointment.patient.time_zone or appointment.organization.time_zone
    wanted = {}
    for rule in rules:
        if not rule.is_active or not rule.applies_to(appointment):
            continue
        for offset in rule.offset_list():
            wanted[(rule.pk, offset.key)] = (
                rule,
                offset.due_at(appointment.starts_at, time_zone),
            )
    return wanted


def _target(
    appointment: Appointment,
    rule: ReminderRule,
    due_at: datetime.datetime,
    now: datetime.datetime,
    *,
    already_planned: bool = False,
) -> tuple[str, str]:
    """(status, reason) a reminder due at ``due_at`` should have now.

    ``already_planned``: a pending row whose time did not change. It may be
    due this very minute; the finder decides, so that saving another field
    of the appointment never skips it as late."""
    if due_at <= now and not already_planned:
        return Status.SKIPPED, ReminderReason.TOO_LATE
    if rule.only_if_unconfirmed and appointment.status == AppointmentStatus.CONFIRMED:
        return Status.SKIPPED, ReminderReason.CONFIRMED
    return Status.PENDING, ""


def _sync(
    appointments: list[Appointment],
    rules: list[ReminderRule],
    *,
    now: datetime.datetime,
    only_rules: bool = False,
) -> None:
    """Make the reminders of ``appointments`` agree with ``rules``.

    ``only_rules``: look only at existing reminders of ``rules`` (a rule was
    saved); otherwise every reminder of the appointments is considered, and
    those of rules not given are cancelled.
    """
    existing = Reminder.objects.filter(appointment__in=appointments)
    if only_rules:
        existing = existing.filter(rule__in=rules)
    by_appointment: dict[int, dict[tuple[int, str], Reminder]] = defaultdict(dict)
    # Locked: a due finder holding one of these rows finishes first.
    for reminder in existing.select_for_update(of=("self",)):
        by_appointment[reminder.appointment_id][(reminder.rule_id, reminder.offset)] = (
            reminder
        )
    to_create, to_update = [], []
    for appointment in appointments:
        closing = appointment_closing_reason(appointment, now)
        wanted = {} if closing else _wanted(appointment, rules)
        have = by_appointment.get(appointment.pk, {})
        for key, (rule, due_at) in wanted.items():
            reminder = have.pop(key, None)
            if reminder is None:
                status, reason = _target(appointment, rule, due_at, now)
                to_create.append(
                    Reminder(
                        appointment=appointment,
                        rule=rule,
                        offset=key[1],
                        due_at=due_at,
                        status=status,
                        reason=reason,
                    )
                )
                continue
            if reminder.status == Status.SENT:
                continue  # history
            status, reason = _target(
                appointment,
                rule,
                due_at,
                now,
                already_planned=reminder.status == Status.PENDING
                and reminder.due_at == due_at,
            )
            if (reminder.status, reminder.reason, reminder.due_at) != (
                status,
                reason,
                due_at,
            ):
                reminder.status, reminder.reason = status, reason
                reminder.due_at = due_at
                to_update.append(reminder)
        for reminder in have.values():  # no longer wanted
            if reminder.status == Status.PENDING:
                reminder.status = Status.CANCELLED
                reminder.reason = closing or _gone_reason(reminder, rules)
                to_update.append(reminder)
    Reminder.objects.bulk_create(to_create, batch_size=500)
    for reminder in to_update:
        reminder.updated_at = now
    Reminder.objects.bulk_update(
        to_update, ["status", "reason", "due_at", "updated_at"], batch_size=500
    )


def _gone_reason(reminder: Reminder, rules: list[ReminderRule]) -> str:
    rule = next((r for r in rules if r.pk == reminder.rule_id), None)
    if rule is not None and not rule.is_active:
        return ReminderReason.RULE_INACTIVE
    return ReminderReason.RULE_CHANGED


def reminders_plan_for_appointment(
    *, appointment: Appointment, now: datetime.datetime | None = None
) -> None:
    """Create, move or cancel the pending reminders of one appointment.

    Runs in the caller's transaction (``appointment_changed`` is sent inside
    it), so reminders never disagree with a committed appointment. Sent
    reminders are left as they are.
    """
    now = now or timezone.now()
    appointment = Appointment.objects.select_related("patient", "organization").get(
        pk=appointment.pk
    )
    rules = list(ReminderRule.objects.for_organization(appointment.organization_id))
    with transaction.atomic():
        _sync([appointment], rules, now=now)


def on_appointment_changed(sender, appointment: Appointment, **kwargs) -> None:
    """Receiver of ``clinic.signals.appointment_changed``."""
    reminders_plan_for_appointment(appointment=appointment)


def _future_appointment_pages(
    organization_id: int, now: datetime.datetime, size: int
) -> Iterator[list[Appointment]]:
    """Keyset pages of an organization's appointments that have not started:
    memory bounded by a page, whatever the calendar's size."""
    queryset = (
        Appointment.objects.for_organization(organization_id)
        .filter(starts_at__gt=now)
        .select_related("patient", "organization")
        .order_by("pk")
    )
    last = 0
    while True:
        page = list(queryset.filter(pk__gt=last)[:size])
        if not page:
            return
        last = page[-1].pk
        yield page


@transaction.atomic
def reminder_rule_save(
    *,
    rule: ReminderRule,
    now: datetime.datetime | None = None,
    page_size: int = PAGE_SIZE,
) -> ReminderRule:
    """Validate and save a rule (new, edited or deactivated), then re-plan
    its reminders for every appointment of the organization that has not
    started, a page at a time. Raises ValidationError. Sent reminders stay."""
    rule.full_clean()
    rule.save()
    now = now or timezone.now()
    for page in _future_appointment_pages(rule.organization_id, now, page_size):
        _sync(page, [rule], now=now, only_rules=True)
    return rule

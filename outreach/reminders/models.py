"""Appointment reminders: the rules staff write and the reminders they plan."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from clinic.models import Appointment, Organization
from clinic.scoping import OrganizationScopedQuerySet
from consent.models import Topic
from consent.vocabulary import Channel, Purpose
from messaging.models import Message
from outreach.reminders.offsets import Offset, offsets_parse, validate_offsets


class ReminderRuleQuerySet(OrganizationScopedQuerySet):
    def active(self):
        return self.filter(is_active=True)


class ReminderRule(models.Model):
    """Which reminders an organization's appointments (of one kind, or all) get."""

    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="reminder_rules",
        verbose_name=_("organization"),
    )
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(
        _("appointment kind"),
        max_length=64,
        blank=True,
        help_text=_("Only appointments of this kind (any case). Empty: every kind."),
    )
    offsets = models.CharField(
        _("when to remind"),
        max_length=200,
        validators=[validate_offsets],
        help_text=_(
            "Comma-separated offsets before the appointment: 7d, 48h, 2h, 30m "
            "(a duration), or 1d@18:00 (the day before at 18:00 in the patient's "
            "time zone)."
        ),
    )
    topic = models.ForeignKey(
        Topic,
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"purpose": Purpose.CARE},
        verbose_name=_("topic"),
        help_text=_("A care topic: its templates are the reminder's text."),
    )
    channel = models.CharField(
        _("only by"),
        max_length=8,
        blank=True,
        choices=[c for c in Channel.choices if c[0] != Channel.INAPP],
        help_text=_(
            "Empty: the patient's preferred channels. The secure inbox always "
            "gets a copy."
        ),
    )
    only_if_unconfirmed = models.BooleanField(
        _("only if not yet confirmed"),
        default=False,
        help_text=_("Skip the reminder when the patient has already confirmed."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = ReminderRuleQuerySet.as_manager()

    class Meta:
        ordering = ["organization", "name"]
        verbose_name = _("reminder rule")
        verbose_name_plural = _("reminder rules")
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name"],
                name="outreach_reminderrule_unique_name_per_org",
                violation_error_message=_(
                    "This organization already has a reminder rule with this name."
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = {}
        if self.topic_id and self.organization_id:
            if self.topic.organization_id != self.organization_id:
                errors["topic"] = _("This belongs to another organization.")
            elif self.topic.purpose != Purpose.CARE:
                errors["topic"] = _("Reminders use a care topic.")
            elif self.channel and self.channel not in self.topic.channels:
                errors["channel"] = _("The topic does not use this channel.")
        if errors:
            raise ValidationError(errors)

    def offset_list(self) -> list[Offset]:
        return offsets_parse(self.offsets)

    def applies_to(self, appointment: Appointment) -> bool:
        return not self.kind or self.kind.casefold() == appointment.kind.casefold()


class ReminderQuerySet(OrganizationScopedQuerySet):
    organization_path = "appointment__organization"

    def due(self, now):
        return self.filter(status=ReminderStatus.PENDING, due_at__lte=now)


class ReminderStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    CANCELLED = "cancelled", _("Cancelled")
    SKIPPED = "skipped", _("Skipped")


class ReminderReason(models.TextChoices):
    APPOINTMENT_CANCELLED = "appointment_cancelled", _("The appointment was cancelled")
    APPOINTMENT_CLOSED = (
        "appointment_closed",
        _("The appointment took place or was missed"),
    )
    APPOINTMENT_PAST = "appointment_past", _("The appointment has started")
    RULE_CHANGED = "rule_changed", _("The rule changed or no longer applies")
    RULE_INACTIVE = "rule_inactive", _("The rule was deactivated")
    TOO_LATE = "too_late", _("Booked or moved after this reminder's time")
    CONFIRMED = "confirmed", _("The patient had already confirmed")
    SUPERSEDED = (
        "superseded",
        _("A later reminder for the same appointment was due too"),
    )
    NOT_SENDABLE = "not_sendable", _("No template or topic problem: see the logs")


class Reminder(models.Model):
    """One planned reminder: an appointment × rule × offset, and what became of it."""

    Status = ReminderStatus
    Reason = ReminderReason

    appointment = models.ForeignKey(
        Appointment,
        on_delete=models.CASCADE,
        related_name="reminders",
        verbose_name=_("appointment"),
    )
    rule = models.ForeignKey(
        ReminderRule,
        on_delete=models.CASCADE,
        related_name="reminders",
        verbose_name=_("rule"),
    )
    offset = models.CharField(_("offset"), max_length=16)
    due_at = models.DateTimeField(_("due at"))
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=ReminderStatus.choices,
        default=ReminderStatus.PENDING,
    )
    reason = models.CharField(
        _("reason"), max_length=32, blank=True, choices=ReminderReason.choices
    )
    message = models.ForeignKey(
        Message,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("message"),
    )
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = ReminderQuerySet.as_manager()

    class Meta:
        ordering = ["due_at"]
        verbose_name = _("reminder")
        verbose_name_plural = _("reminders")
        constraints = [
            models.UniqueConstraint(
                fields=["appointment", "rule", "offset"],
                name="outreach_reminder_once_per_offset",
            ),
            models.CheckConstraint(
                condition=Q(status__in=ReminderStatus.values),
                name="outreach_reminder_status_known",
            ),
        ]
        indexes = [
            # The due finder: pending reminders by time.
            models.Index(fields=["status", "due_at"], name="outreach_reminder_due"),
        ]

    def __str__(self) -> str:
        return f"{self.rule} {self.offset} → {self.get_status_display()}"

"""Recurring care reminders: medication times and recalls (issue 6).

A schedule's rule is an RFC 5545 RRULE evaluated in the patient's own time
zone from a local start date and time, so "every day at 08:00" stays 08:00 on
the patient's clock across daylight-saving changes; ``next_due_at`` is that
local time as a UTC instant. Services are in ``outreach.recurring.services``.
"""

from __future__ import annotations

import datetime

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clinic.models import Organization, Patient
from clinic.scoping import OrganizationScopedQuerySet
from consent.models import Topic


class CareScheduleQuerySet(OrganizationScopedQuerySet):
    def due(self, now: datetime.datetime | None = None):
        """Schedules whose next occurrence has come (paused ones excluded;
        ``paused_until`` is judged per occurrence by the finder)."""
        return self.filter(
            paused=False,
            next_due_at__isnull=False,
            next_due_at__lte=now or timezone.now(),
        )


class CareSchedule(models.Model):
    organization = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="care_schedules",
        verbose_name=_("organization"),
    )
    patient = models.ForeignKey(
        Patient,
        on_delete=models.CASCADE,
        related_name="care_schedules",
        verbose_name=_("patient"),
    )
    topic = models.ForeignKey(
        Topic,
        on_delete=models.PROTECT,
        related_name="care_schedules",
        verbose_name=_("topic"),
        help_text=_("A care topic of the organization (e.g. prescriptions)."),
    )
    label = models.CharField(
        _("label"),
        max_length=200,
        help_text=_(
            "What the patient is reminded of (e.g. Metformin 500 mg). Health data: "
            "shown only in the patient's secure inbox, never in an SMS or email."
        ),
    )
    rule = models.CharField(
        _("recurrence rule"),
        max_length=500,
        help_text=_(
            "An RFC 5545 RRULE, e.g. FREQ=DAILY;BYHOUR=8,20;BYMINUTE=0 or "
            "FREQ=YEARLY;INTERVAL=2. Times are the patient's local time."
        ),
    )
    start_date = models.DateField(_("start date"))
    start_time = models.TimeField(
        _("start time"),
        help_text=_("Patient's local time; the rule's default time of day."),
    )
    until = models.DateField(
        _("until"),
        null=True,
        blank=True,
        help_text=_("Last day (included), in the patient's time zone. Empty: no end."),
    )
    paused = models.BooleanField(_("paused"), default=False)
    paused_until = models.DateTimeField(
        _("paused until"),
        null=True,
        blank=True,
        help_text=_("Occurrences before this moment are skipped, not sent later."),
    )
    next_due_at = models.DateTimeField(
        _("next due at"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("Empty: the schedule has ended."),
    )
    last_occurrence_at = models.DateTimeField(
        _("last occurrence sent"), null=True, blank=True, editable=False
    )
    last_sent_at = models.DateTimeField(
        _("last sent at"), null=True, blank=True, editable=False
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = CareScheduleQuerySet.as_manager()

    class Meta:
        ordering = ["next_due_at"]
        verbose_name = _("care schedule")
        verbose_name_plural = _("care schedules")
        constraints = [
            models.CheckConstraint(
                condition=Q(until__isnull=True) | Q(until__gte=models.F("start_date")),
                name="outreach_careschedule_until_after_start",
                violation_error_message=_("The end date is before the start."),
            ),
        ]
        indexes = [
            # The finder: what is due, every minute.
            models.Index(
                fields=["next_due_at"],
                condition=Q(paused=False, next_due_at__isnull=False),
                name="outreach_care_due",
            ),
        ]

    def __str__(self) -> str:
        # No label: it is health data, and __str__ ends up in logs and admin history.
        return _("care schedule %(id)s (patient %(patient)s)") % {
            "id": self.pk,
            "patient": self.patient_id,
        }

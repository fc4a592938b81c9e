"""Campaigns: one message (a topic's templates) to an audience built from filters.

A campaign is written by one staff member and approved by another before it
is scheduled. Scheduling freezes the audience into ``CampaignRecipient`` rows
(one per patient, unique), each due at the campaign's time in the patient's
own time zone; the scheduler's finder plans due rows through
``messaging.services.message_send_many``, a page at a time, within the
campaign's throttle.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from clinic.models import Language, Organization, Patient, Site
from clinic.scoping import OrganizationScopedQuerySet
from consent.models import Topic


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    AWAITING_APPROVAL = "awaiting", _("Awaiting approval")
    APPROVED = "approved", _("Approved")
    SCHEDULED = "scheduled", _("Scheduled")
    SENDING = "sending", _("Sending")
    PAUSED = "paused", _("Paused")
    DONE = "done", pgettext_lazy("campaign status", "Done")
    CANCELLED = "cancelled", pgettext_lazy("campaign status", "Cancelled")


class ScheduleKind(models.TextChoices):
    NOW = "now", _("As soon as it is scheduled")
    AT = "at", _("At one moment")
    LOCAL = "local", _("At a local time in each patient's own time zone")


class CampaignQuerySet(OrganizationScopedQuerySet):
    def plannable(self):
        """Campaigns whose recipients the finder may plan."""
        return self.filter(
            status__in=[CampaignStatus.SCHEDULED, CampaignStatus.SENDING]
        )


class Campaign(models.Model):
    Status = CampaignStatus
    Schedule = ScheduleKind

    organization = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("organization"),
    )
    name = models.CharField(_("name"), max_length=200)
    topic = models.ForeignKey(
        Topic,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("topic"),
        help_text=_(
            "What the campaign says is the topic's templates, one per channel and "
            "language; its purpose decides the consent rules."
        ),
    )
    # Audience filters: empty means "any".
    site = models.ForeignKey(
        Site,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("site"),
        help_text=_("Patients with an appointment at this site."),
    )
    age_min = models.PositiveSmallIntegerField(_("minimum age"), null=True, blank=True)
    age_max = models.PositiveSmallIntegerField(_("maximum age"), null=True, blank=True)
    language = models.CharField(
        _("language"), max_length=2, choices=Language.choices, blank=True
    )
    tags = models.JSONField(
        _("tags"),
        default=list,
        blank=True,
        help_text=_('Patients with any of these tags, e.g. ["diabetes", "over-65"].'),
    )
    last_visit_before = models.DateField(_("last visit before"), null=True, blank=True)
    last_visit_after = models.DateField(_("last visit after"), null=True, blank=True)
    upcoming_appointment_kind = models.CharField(
        _("upcoming appointment kind"), max_length=64, blank=True
    )
    require_opt_in = models.BooleanField(
        _("only patients who opted in"),
        default=False,
        help_text=_(
            "Only patients with an explicit consent on record for this topic or its "
            "purpose. Campaign (marketing) topics always need one."
        ),
    )
    # Schedule and pace.
    schedule = models.CharField(
        _("when"), max_length=8, choices=ScheduleKind.choices, default=ScheduleKind.NOW
    )
    send_at = models.DateTimeField(_("send at"), null=True, blank=True)
    local_date = models.DateField(_("local date"), null=True, blank=True)
    local_time = models.TimeField(_("local time"), null=True, blank=True)
    throttle_per_minute = models.PositiveIntegerField(
        _("messages per minute"),
        null=True,
        blank=True,
        help_text=_("Empty: as fast as the workers go."),
    )
    # The throttle's current one-minute window (written by the finder only).
    window_started_at = models.DateTimeField(
        _("window started at"), null=True, blank=True, editable=False
    )
    window_planned = models.PositiveIntegerField(
        _("window planned"), default=0, editable=False
    )
    # Workflow.
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=CampaignStatus.choices,
        default=CampaignStatus.DRAFT,
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("author"),
    )
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("approved by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    approved_at = models.DateTimeField(_("approved"), null=True, blank=True)
    scheduled_at = models.DateTimeField(_("scheduled"), null=True, blank=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    paused_at = models.DateTimeField(_("paused"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled"), null=True, blank=True)

    objects = CampaignQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        permissions = [
            ("approve_campaign", _("Can approve a campaign written by someone else")),
            ("send_campaign", _("Can schedule, pause, resume and cancel campaigns")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=CampaignStatus.values),
                name="campaigns_campaign_status_known",
            ),
            models.CheckConstraint(
                condition=Q(approver__isnull=True) | ~Q(approver=models.F("author")),
                name="campaigns_campaign_four_eyes",
                violation_error_message=_(
                    "The author of a campaign cannot approve it."
                ),
            ),
            models.CheckConstraint(
                condition=Q(age_min__isnull=True)
                | Q(age_max__isnull=True)
                | Q(age_min__lte=models.F("age_max")),
                name="campaigns_campaign_age_range",
                violation_error_message=_(
                    "The minimum age must not exceed the maximum age."
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def origin_ref(self) -> str:
        """What its messages carry in ``Message.origin_ref``."""
        return f"campaign:{self.pk}"

    @property
    def idempotency_prefix(self) -> str:
        return f"campaign:{self.pk}"

    @property
    def editable(self) -> bool:
        return self.status == CampaignStatus.DRAFT


class RecipientStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for its time")
    PLANNED = "planned", _("Planned")
    SUPPRESSED = "suppressed", _("Not sent")
    CANCELLED = "cancelled", _("Cancelled with the campaign")


class CampaignRecipientQuerySet(OrganizationScopedQuerySet):
    organization_path = "campaign__organization"


class CampaignRecipient(models.Model):
    """One patient of a campaign's audience: planned once, and why not if not."""

    Status = RecipientStatus

    # Every index is written again for each recipient a page marks, so only
    # three: the primary key, the unique (campaign, patient) one and the
    # finder's. Nothing looks recipients up by patient or message alone but
    # Django deleting one (an admin's rare act, a scan then).
    # No foreign-key constraint in the database on the three relations (Django
    # still cascades and nulls): each costs a lookup per recipient written —
    # three per row when the audience is frozen, one more when a page links
    # its messages — and every writer takes the ids from the rows themselves
    # in the same transaction (the audience query, the locked campaign, the
    # messages the page just wrote). See docs/outreach.md, Measured.
    campaign = models.ForeignKey(
        Campaign,
        on_delete=models.CASCADE,
        related_name="recipients",
        db_index=False,
        db_constraint=False,
        verbose_name=_("campaign"),
    )
    patient = models.ForeignKey(
        Patient,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
        verbose_name=_("patient"),
    )
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=RecipientStatus.choices,
        default=RecipientStatus.PENDING,
    )
    reason = models.CharField(_("reason"), max_length=32, blank=True)
    due_at = models.DateTimeField(_("due at"))
    planned_at = models.DateTimeField(_("planned at"), null=True, blank=True)
    message = models.ForeignKey(
        "messaging.Message",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
        verbose_name=_("message"),
    )

    objects = CampaignRecipientQuerySet.as_manager()

    class Meta:
        verbose_name = _("recipient")
        verbose_name_plural = _("recipients")
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "patient"], name="campaigns_recipient_once"
            ),
        ]
        indexes = [
            # The finder: a campaign's pending rows by time, then id.
            models.Index(
                fields=["campaign", "status", "due_at"], name="campaigns_recipient_due"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}:{self.patient_id} {self.status}"


class PatientTagQuerySet(OrganizationScopedQuerySet):
    organization_path = "patient__organization"


class PatientTag(models.Model):
    """A label staff put on a patient to target campaigns ("diabetes", "over-65").

    Kept here rather than on ``clinic.Patient``: tags exist for targeting, and
    a row per tag filters with one indexed join.
    """

    patient = models.ForeignKey(
        Patient,
        on_delete=models.CASCADE,
        related_name="tags",
        verbose_name=_("patient"),
    )
    name = models.SlugField(_("tag"), max_length=64)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = PatientTagQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("patient tag")
        verbose_name_plural = _("patient tags")
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "name"], name="campaigns_patienttag_once"
            ),
        ]
        indexes = [models.Index(fields=["name"], name="campaigns_tag_name")]

    def __str__(self) -> str:
        return self.name

"""Appointments: the visits reminders, portal cards and partner systems are about.

Apart from clinic/models.py, which imports them back (``clinic.models.Appointment``
stays the name to use), to keep each module one sub-domain; foreign keys name the
other clinic models by label, so this module needs nothing from clinic.models.
"""

import uuid

from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from clinic.scoping import OrganizationScopedQuerySet


class AppointmentQuerySet(OrganizationScopedQuerySet):
    def upcoming(self, now=None):
        return self.filter(starts_at__gte=now or timezone.now())


class AppointmentStatus(models.TextChoices):
    BOOKED = "booked", _("Booked")
    CONFIRMED = "confirmed", _("Confirmed")
    CANCELLED = "cancelled", _("Cancelled")
    NO_SHOW = "noshow", _("No-show")
    FULFILLED = "fulfilled", _("Fulfilled")


class Appointment(models.Model):
    Status = AppointmentStatus

    public_id = models.UUIDField(
        _("public ID"), default=uuid.uuid4, unique=True, editable=False
    )
    organization = models.ForeignKey(
        "clinic.Organization",
        on_delete=models.PROTECT,
        related_name="appointments",
        verbose_name=_("organization"),
    )
    patient = models.ForeignKey(
        "clinic.Patient",
        on_delete=models.CASCADE,
        related_name="appointments",
        verbose_name=_("patient"),
    )
    site = models.ForeignKey(
        "clinic.Site",
        on_delete=models.PROTECT,
        related_name="appointments",
        verbose_name=_("site"),
    )
    practitioner = models.ForeignKey(
        "clinic.StaffMember",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="appointments",
        verbose_name=_("practitioner"),
    )
    kind = models.CharField(
        _("kind"),
        max_length=64,
        blank=True,
        help_text=_("The kind of visit (consultation, vaccination…); clinical data."),
    )
    preparation_notes = models.TextField(
        _("preparation notes"),
        max_length=1000,
        # TextField's max_length only sizes forms: checked by full_clean too,
        # whichever way (admin, REST, FHIR, import) the notes arrive.
        validators=[MaxLengthValidator(1000)],
        blank=True,
        help_text=_(
            "What the patient should bring or do beforehand, written for the "
            "patient. Shown in the portal and the calendar file, never in SMS "
            "or email."
        ),
    )
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.BOOKED
    )
    cancellation_reason = models.CharField(
        _("cancellation reason"),
        max_length=300,
        blank=True,
        help_text=_("In the patient's words; may be clinical."),
    )
    external_id = models.CharField(
        _("external id"),
        max_length=128,
        blank=True,
        help_text=_("The booking system's id, unique within the organization."),
    )
    hidden_from_proxies_at = models.DateTimeField(
        _("hidden from caregivers at"),
        null=True,
        blank=True,
        help_text=_(
            "Set by the patient in the portal: people acting for them no longer "
            "see this appointment."
        ),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = AppointmentQuerySet.as_manager()

    class Meta:
        ordering = ["starts_at"]
        verbose_name = _("appointment")
        verbose_name_plural = _("appointments")
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")),
                name="clinic_appointment_ends_after_start",
                violation_error_message=_("The appointment must end after it starts."),
            ),
            models.CheckConstraint(
                condition=Q(status__in=AppointmentStatus.values),
                name="clinic_appointment_status_known",
            ),
            models.UniqueConstraint(
                fields=["organization", "external_id"],
                condition=~Q(external_id=""),
                name="clinic_appointment_unique_external_id_per_org",
                violation_error_message=_(
                    "Another appointment of this organization already has this external id."
                ),
            ),
        ]
        indexes = [
            # Calendars and reminder planning: an organization's appointments by time.
            models.Index(
                fields=["organization", "starts_at"], name="clinic_appt_org_starts"
            ),
            # Partner sync: "appointments updated since" per organization (API).
            models.Index(
                fields=["organization", "updated_at"], name="clinic_appt_org_updated"
            ),
        ]

    def __str__(self) -> str:
        # In the zone of the moment, named: admin pages are in the staff
        # member's (clinic/time_zones.py), anything else in UTC.
        if self.starts_at is None:
            return str(self.patient)
        local = timezone.localtime(self.starts_at)
        zone = timezone.get_current_timezone_name()
        return f"{self.patient} @ {local:%Y-%m-%d %H:%M} {zone}"

    def clean(self) -> None:
        errors = {
            name: _("This belongs to another organization.")
            for name in ("patient", "site", "practitioner")
            if self.organization_id
            and getattr(self, f"{name}_id")
            and getattr(self, name).organization_id != self.organization_id
        }
        if errors:
            raise ValidationError(errors)


class VisitTypeQuerySet(OrganizationScopedQuerySet):
    pass


class VisitType(models.Model):
    """What an appointment's ``kind`` means to a patient, in each language.

    Booking systems send a code ("vaccination", "suivi", "CS-ORL"): the
    catalogue names it in French and English for the portal's cards, the
    printable summary, the API and the FHIR facade. An appointment whose kind
    is not in the catalogue shows the kind as sent.
    """

    organization = models.ForeignKey(
        "clinic.Organization",
        on_delete=models.CASCADE,
        related_name="visit_types",
        verbose_name=_("organization"),
    )
    code = models.CharField(
        _("code"),
        max_length=64,
        help_text=_(
            "The appointment kind as the booking system sends it; matched "
            "without regard to case."
        ),
    )
    name_fr = models.CharField(_("name (French)"), max_length=120)
    name_en = models.CharField(_("name (English)"), max_length=120)

    objects = VisitTypeQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = _("visit type")
        verbose_name_plural = _("visit types")
        constraints = [
            models.UniqueConstraint(
                Lower("code"),
                "organization",
                name="clinic_visittype_unique_code_per_org",
                violation_error_message=_(
                    "This organization already has a visit type with this code."
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.name()

    def name(self, language: str | None = None) -> str:
        """The name in ``language`` (the active one by default)."""
        language = (language or get_language() or "en")[:2]
        return self.name_fr if language == "fr" else self.name_en

"""The pending change of a patient's email or mobile number."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clinic.models import Patient
from clinic.scoping import OrganizationScopedQuerySet


class ContactPointChangeQuerySet(OrganizationScopedQuerySet):
    organization_path = "patient__organization"

    def for_patient(self, patient: Patient) -> ContactPointChangeQuerySet:
        return self.for_organization(patient.organization_id).filter(patient=patient)

    def pending(self) -> ContactPointChangeQuerySet:
        return self.filter(status=ContactPointChange.Status.PENDING)


class ContactPointChange(models.Model):
    """A new email or mobile number waiting for the code sent to it.

    The address and the code's hash are kept only while the change is
    pending; once it is confirmed, cancelled, replaced, expired or locked the
    row keeps what happened and when, not the address.
    """

    class Kind(models.TextChoices):
        EMAIL = "email", _("email address")
        PHONE = "phone", _("mobile number")

    class Status(models.TextChoices):
        PENDING = "pending", _("waiting for the code")
        CONFIRMED = "confirmed", _("confirmed")
        CANCELLED = "cancelled", _("cancelled")
        REPLACED = "replaced", _("replaced by a newer request")
        EXPIRED = "expired", _("expired")
        LOCKED = "locked", _("too many wrong codes")

    public_id = models.UUIDField(
        _("public ID"), default=uuid.uuid4, unique=True, editable=False
    )
    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, related_name="+", verbose_name=_("patient")
    )
    kind = models.CharField(_("what"), max_length=8, choices=Kind.choices)
    new_value = models.CharField(
        _("new address"),
        max_length=254,
        blank=True,
        help_text=_("Kept only while the change waits for its code."),
    )
    code_hash = models.CharField(
        _("code hash"), max_length=64, blank=True, editable=False
    )
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.PENDING
    )
    failed_attempts = models.PositiveSmallIntegerField(_("wrong codes"), default=0)
    send_count = models.PositiveSmallIntegerField(_("codes sent"), default=0)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("asked by"),
    )
    created_at = models.DateTimeField(_("asked at"), default=timezone.now)
    last_sent_at = models.DateTimeField(_("last code sent at"), null=True, blank=True)
    code_expires_at = models.DateTimeField(_("code expires at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    objects = ContactPointChangeQuerySet.as_manager()

    class Meta:
        app_label = "portal"
        verbose_name = _("contact detail change")
        verbose_name_plural = _("contact detail changes")
        constraints = [
            # A new request replaces the older one: one pending change per
            # patient and kind of contact point.
            models.UniqueConstraint(
                fields=["patient", "kind"],
                condition=Q(status="pending"),
                name="portal_contactchange_one_pending",
            ),
        ]
        indexes = [
            # The contact page (a patient's changes, newest first) and the
            # hourly limit on codes sent (the patient's recent sends).
            models.Index(
                fields=["patient", "-created_at"], name="portal_contactchange_patient"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.get_status_display()}"

    @property
    def channel(self) -> str:
        """The channel the code travels on: email, or SMS for a mobile number."""
        return "email" if self.kind == self.Kind.EMAIL else "sms"

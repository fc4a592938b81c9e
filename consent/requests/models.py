"""Requests a patient makes about their data that staff must handle in time."""

import datetime
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from clinic.models import Patient
from clinic.scoping import OrganizationScopedQuerySet

# GDPR art. 12(3): answer "without undue delay and in any event within one
# month of receipt of the request".
ERASURE_DELAY = datetime.timedelta(days=30)


class ErasureRequestQuerySet(OrganizationScopedQuerySet):
    organization_path = "patient__organization"

    def open(self):
        return self.filter(status=ErasureRequest.Status.OPEN)


class ErasureRequest(models.Model):
    """A patient's request to erase their data (GDPR art. 17), until staff answer.

    Only an open request moves on: staff carry it out (done) or refuse it, or
    the patient withdraws it; each of those is final.
    """

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        DONE = "done", _("Done")
        REFUSED = "refused", _("Refused")
        WITHDRAWN = "withdrawn", pgettext_lazy("erasure request status", "Withdrawn")

    public_id = models.UUIDField(
        _("public ID"), default=uuid.uuid4, unique=True, editable=False
    )
    patient = models.ForeignKey(
        Patient,
        on_delete=models.CASCADE,
        related_name="erasure_requests",
        verbose_name=_("patient"),
    )
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("requested by"),
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.OPEN
    )
    due_at = models.DateTimeField(_("due at"))
    handled_at = models.DateTimeField(_("handled at"), null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("handled by"),
    )
    withdrawn_at = models.DateTimeField(_("withdrawn at"), null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("withdrawn by"),
    )
    note = models.TextField(_("note"), blank=True)

    objects = ErasureRequestQuerySet.as_manager()

    class Meta:
        ordering = ["due_at"]
        verbose_name = _("erasure request")
        verbose_name_plural = _("erasure requests")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["open", "done", "refused", "withdrawn"]),
                name="consent_erasurerequest_status_known",
            ),
            # A withdrawn request says when; no other request has that date.
            models.CheckConstraint(
                condition=(
                    models.Q(status="withdrawn", withdrawn_at__isnull=False)
                    | (
                        ~models.Q(status="withdrawn")
                        & models.Q(withdrawn_at__isnull=True)
                    )
                ),
                name="consent_erasurerequest_withdrawn_dated",
            ),
            # One open request a patient: two asks at the same instant would
            # otherwise leave staff two to answer (and one forever open).
            models.UniqueConstraint(
                fields=["patient"],
                condition=models.Q(status="open"),
                name="consent_erasurerequest_one_open",
            ),
        ]
        indexes = [
            # Admin list: open requests by due date.
            models.Index(fields=["status", "due_at"], name="consent_erasure_due"),
        ]

    def __str__(self) -> str:
        return _("erasure request %(id)s") % {"id": self.public_id}

    @property
    def is_overdue(self) -> bool:
        return self.status == self.Status.OPEN and self.due_at < timezone.now()

"""Waitlists and the offers of freed slots (issue 6).

A patient waits for a slot at a site (or any), with a practitioner (or any),
of a kind (or any), between two dates and within daily time ranges. When an
appointment is cancelled, the freed slot is offered to matching waiting
patients; the first valid answer wins and the others are told it is gone.
"""

from __future__ import annotations

import re
import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from clinic.models import Appointment, Organization, Patient, Site, StaffMember
from clinic.scoping import OrganizationScopedQuerySet

TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def time_ranges_clean(value) -> list[list[str]]:
    """``[["08:00", "12:00"], …]`` checked; raises ValidationError."""
    cleaned = []
    for pair in value or []:
        if (
            not isinstance(pair, list | tuple)
            or len(pair) != 2
            or not all(isinstance(t, str) and TIME.match(t) for t in pair)
        ):
            raise ValidationError(
                {
                    "time_ranges": gettext(
                        "Write each time range as a start and an end, such as 08:00 and 12:00."
                    )
                }
            )
        if pair[1] <= pair[0]:
            raise ValidationError(
                {"time_ranges": gettext("A time range must end after it starts.")}
            )
        cleaned.append([pair[0], pair[1]])
    return cleaned


class WaitlistEntryQuerySet(OrganizationScopedQuerySet):
    def waiting(self):
        return self.filter(status=WaitlistEntry.Status.WAITING)


class WaitlistEntry(models.Model):
    class Status(models.TextChoices):
        WAITING = "waiting", _("Waiting")
        SERVED = "served", _("Got a slot")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    public_id = models.UUIDField(
        _("public ID"), default=uuid.uuid4, unique=True, editable=False
    )
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("organization"),
    )
    patient = models.ForeignKey(
        Patient,
        on_delete=models.CASCADE,
        related_name="waitlist_entries",
        verbose_name=_("patient"),
    )
    site = models.ForeignKey(
        Site,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("site"),
        help_text=_("Empty: any site."),
    )
    practitioner = models.ForeignKey(
        StaffMember,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("practitioner"),
        help_text=_("Empty: any practitioner."),
    )
    kind = models.CharField(
        _("kind"), max_length=64, blank=True, help_text=_("Empty: any kind.")
    )
    earliest = models.DateField(_("earliest date"))
    latest = models.DateField(_("latest date"))
    # Daily windows in the patient's time zone, e.g. [["08:00", "12:00"]];
    # empty: any time of day.
    time_ranges = models.JSONField(_("time ranges"), default=list, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.WAITING
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = WaitlistEntryQuerySet.as_manager()

    class Meta:
        verbose_name = _("waitlist entry")
        verbose_name_plural = _("waitlist")
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["organization", "status", "earliest"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(latest__gte=models.F("earliest")),
                name="outreach_waitlist_latest_after_earliest",
            )
        ]

    def __str__(self) -> str:
        return _("waitlist entry %(id)s") % {"id": self.pk}

    def clean(self) -> None:
        if self.earliest and self.latest and self.latest < self.earliest:
            raise ValidationError({"latest": _("The end is before the start.")})
        self.time_ranges = time_ranges_clean(self.time_ranges)


class SlotOfferQuerySet(OrganizationScopedQuerySet):
    pass


class SlotOffer(models.Model):
    """A freed slot offered to several waiting patients; taken once."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        TAKEN = "taken", _("Taken")
        CLOSED = "closed", _("Closed without taker")

    public_id = models.UUIDField(
        _("public ID"), default=uuid.uuid4, unique=True, editable=False
    )
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("organization"),
    )
    freed = models.OneToOneField(
        Appointment,
        on_delete=models.CASCADE,
        related_name="slot_offer",
        verbose_name=_("cancelled appointment"),
    )
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.OPEN
    )
    taken_by = models.ForeignKey(
        WaitlistEntry,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("taken by"),
    )
    booked = models.OneToOneField(
        Appointment,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("new appointment"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    objects = SlotOfferQuerySet.as_manager()

    class Meta:
        verbose_name = _("slot offer")
        verbose_name_plural = _("slot offers")

    def __str__(self) -> str:
        return _("slot offer %(id)s") % {"id": self.pk}


class SlotOfferRecipient(models.Model):
    """One waiting patient an offer went to, and what became of it."""

    class Status(models.TextChoices):
        OFFERED = "offered", _("Offered")
        WON = "won", _("Took the slot")
        GONE = "gone", _("Told it was gone")

    offer = models.ForeignKey(
        SlotOffer,
        on_delete=models.CASCADE,
        related_name="recipients",
        verbose_name=_("offer"),
    )
    entry = models.ForeignKey(
        WaitlistEntry,
        on_delete=models.CASCADE,
        related_name="offers",
        verbose_name=_("entry"),
    )
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.OFFERED
    )
    offered_at = models.DateTimeField(_("offered at"), auto_now_add=True)

    class Meta:
        verbose_name = _("slot offer recipient")
        verbose_name_plural = _("slot offer recipients")
        constraints = [
            models.UniqueConstraint(
                fields=["offer", "entry"], name="outreach_offer_once_per_entry"
            )
        ]

    def __str__(self) -> str:
        return _("offer %(offer)s to waitlist entry %(entry)s") % {
            "offer": self.offer_id,
            "entry": self.entry_id,
        }

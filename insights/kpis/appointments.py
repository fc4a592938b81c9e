"""Appointments: the confirmation and no-show rates."""

from __future__ import annotations

from django.db.models import (
    Count,
    Exists,
    OuterRef,
    Q,
    QuerySet,
)
from django.utils.translation import gettext_lazy as _

from clinic.models import Appointment, AppointmentStatus
from insights.kpis.base import Figure, Scope, patient_column, ratio
from outreach.reminders.models import Reminder, ReminderStatus


def _appointments(scope: Scope) -> QuerySet:
    queryset = Appointment.objects.for_organization(scope.organization).filter(
        starts_at__gte=scope.start, starts_at__lt=scope.end
    )
    if scope.site is not None:
        queryset = queryset.filter(site=scope.site)
    reminded = Reminder.objects.filter(
        appointment=OuterRef("pk"), status=ReminderStatus.SENT
    )
    return queryset.annotate(reminded=Exists(reminded)).order_by("starts_at", "id")


def appointment_rates(scope: Scope) -> list[Figure]:
    rows = _appointments(scope)
    status = AppointmentStatus
    pending = Q(status__in=[status.BOOKED, status.CONFIRMED])
    closed = Q(status__in=[status.FULFILLED, status.NO_SHOW])
    counts = {}
    for r in (
        rows.order_by()
        .values("reminded")
        .annotate(
            pending=Count("id", filter=pending),
            confirmed=Count("id", filter=Q(status=status.CONFIRMED)),
            closed=Count("id", filter=closed),
            no_show=Count("id", filter=Q(status=status.NO_SHOW)),
        )
    ):
        counts[bool(r["reminded"])] = r
    empty = {"pending": 0, "confirmed": 0, "closed": 0, "no_show": 0}
    columns = [
        ("public_id", _("appointment")),
        patient_column(),
        ("site__name", _("site")),
        ("starts_at", _("starts at")),
        ("status", _("status")),
        ("reminded", _("reminder sent")),
    ]
    figures = []
    for reminded, suffix, label in (
        (True, "with", _("with reminders")),
        (False, "without", _("without reminders")),
    ):
        c = counts.get(reminded, empty)
        figures += [
            Figure(
                key=f"confirmation_rate.{suffix}",
                family="confirmation_rate",
                label=str(_("Confirmation rate, %(which)s") % {"which": label}),
                value=ratio(c["confirmed"], c["pending"]),
                unit="percent",
                rows=rows.filter(pending, reminded=reminded),
                columns=columns,
                numerator=c["confirmed"],
                denominator=c["pending"],
                counted=lambda r: r["status"] == status.CONFIRMED,
            ),
            Figure(
                key=f"no_show_rate.{suffix}",
                family="no_show_rate",
                label=str(_("No-show rate, %(which)s") % {"which": label}),
                value=ratio(c["no_show"], c["closed"]),
                unit="percent",
                rows=rows.filter(closed, reminded=reminded),
                columns=columns,
                numerator=c["no_show"],
                denominator=c["closed"],
                counted=lambda r: r["status"] == status.NO_SHOW,
            ),
        ]
    return figures

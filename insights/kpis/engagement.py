"""Portal engagement: active users, and the attrition of lapsed patients."""

from __future__ import annotations

import datetime

from django.contrib.auth import get_user_model
from django.db.models import (
    Count,
    Exists,
    OuterRef,
    Q,
    QuerySet,
)
from django.utils.translation import gettext_lazy as _

from clinic.models import Appointment, AppointmentStatus, Patient
from feedback.models import SurveyResponse
from insights.kpis.base import IN, Figure, Scope, ratio
from messaging.models import Message

PATIENT_COLUMNS = [
    ("public_id", _("patient record")),
    ("identifier", _("patient")),
    ("created_at", _("registered")),
    ("user__last_login", _("last portal sign-in")),
]


def _patients(scope: Scope) -> QuerySet:
    return Patient.objects.for_organization(scope.organization).filter(
        erased_at__isnull=True
    )


def active_users(scope: Scope) -> list[Figure]:
    with_account = _patients(scope).filter(user__isnull=False)
    active = Q(user__last_login__gte=scope.start, user__last_login__lt=scope.end)
    counts = with_account.aggregate(n=Count("id"), k=Count("id", filter=active))
    return [
        Figure(
            key="active_users",
            family="active_users",
            label=str(_("Active portal users")),
            value=ratio(counts["k"], counts["n"]),
            unit="percent",
            rows=with_account.filter(active).order_by("identifier"),
            columns=PATIENT_COLUMNS,
            numerator=counts["k"],
            denominator=counts["n"],
            site_scoped=False,
        )
    ]


def lapsed_patients(scope: Scope) -> tuple[QuerySet, QuerySet]:
    """(patients registered before the window, those with no interaction in it)."""
    since = scope.end - datetime.timedelta(days=scope.inactive_days)
    window = {"gte": since, "lt": scope.end}

    def within(prefix: str) -> dict:
        return {f"{prefix}__{op}": at for op, at in window.items()}

    patient = OuterRef("pk")
    wrote = Message.objects.filter(
        patient=patient, direction=IN, **within("created_at")
    )
    read = Message.objects.filter(patient=patient, **within("read_at"))
    attended = Appointment.objects.filter(
        patient=patient, status=AppointmentStatus.FULFILLED, **within("starts_at")
    )
    answered = SurveyResponse.objects.filter(patient=patient, **within("submitted_at"))
    # NOT EXISTS rather than a filter on the LEFT JOIN of accounts: PostgreSQL
    # estimated that filter at 0.4 % of the patients (a nullable side's NULLs
    # are not in its statistics) instead of 70 %, so planned the probes
    # below for a few hundred rows, without a parallel worker.
    signed_in = get_user_model().objects.filter(
        pk=OuterRef("user_id"), **within("last_login")
    )
    eligible = _patients(scope).filter(created_at__lt=since)
    lapsed = (
        eligible.exclude(Exists(signed_in))
        .exclude(Exists(wrote))
        .exclude(Exists(read))
        .exclude(Exists(attended))
        .exclude(Exists(answered))
    )
    return eligible, lapsed.order_by("identifier")


def attrition(scope: Scope) -> list[Figure]:
    eligible, lapsed = lapsed_patients(scope)
    total, count = eligible.count(), lapsed.count()
    return [
        Figure(
            key="attrition",
            family="attrition",
            label=str(
                _("Lapsed patients (no interaction in %(days)s days)")
                % {"days": scope.inactive_days}
            ),
            value=ratio(count, total),
            unit="percent",
            rows=lapsed,
            columns=PATIENT_COLUMNS,
            numerator=count,
            denominator=total,
            site_scoped=False,
        )
    ]

"""Satisfaction: CSAT and NPS scores, and the survey response rate."""

from __future__ import annotations

from django.db.models import (
    Avg,
    Count,
    Q,
    QuerySet,
)
from django.utils.translation import gettext_lazy as _

from feedback.models import Answer, Question, SurveyInvitation
from insights.kpis.base import Figure, Scope, patient_column, ratio


def _scores(scope: Scope, kind: str) -> QuerySet:
    queryset = Answer.objects.filter(
        response__organization=scope.organization,
        response__submitted_at__gte=scope.start,
        response__submitted_at__lt=scope.end,
        question__kind=kind,
        score__isnull=False,
    )
    if scope.site is not None:
        # Anonymous responses keep no invitation, so no site: left out here.
        queryset = queryset.filter(response__invitation__site=scope.site)
    return queryset.order_by("response__submitted_at", "id")


ANSWER_COLUMNS = [
    ("response__public_id", _("response")),
    ("response__survey__name", _("survey")),
    ("response__submitted_at", _("submitted at")),
    ("score", _("score")),
]


def survey_scores(scope: Scope) -> list[Figure]:
    csat = _scores(scope, Question.Kind.CSAT)
    nps = _scores(scope, Question.Kind.NPS)
    c = csat.order_by().aggregate(
        n=Count("id"), k=Count("id", filter=Q(score__gte=4)), mean=Avg("score")
    )
    p = nps.order_by().aggregate(
        n=Count("id"),
        promoters=Count("id", filter=Q(score__gte=9)),
        detractors=Count("id", filter=Q(score__lte=6)),
    )
    nps_value = None
    if p["n"]:
        nps_value = 100.0 * (p["promoters"] - p["detractors"]) / p["n"]
    return [
        Figure(
            key="csat_share",
            family="csat",
            label=str(_("Satisfied (CSAT 4–5)")),
            value=ratio(c["k"], c["n"]),
            unit="percent",
            rows=csat,
            columns=ANSWER_COLUMNS,
            numerator=c["k"],
            denominator=c["n"],
            counted=lambda r: r["score"] >= 4,
        ),
        Figure(
            key="csat_mean",
            family="csat",
            label=str(_("Mean satisfaction (1–5)")),
            value=float(c["mean"]) if c["mean"] is not None else None,
            unit="score",
            rows=csat,
            columns=ANSWER_COLUMNS,
            denominator=c["n"],
        ),
        Figure(
            key="nps",
            family="nps",
            label=str(_("Net promoter score")),
            value=nps_value,
            unit="nps",
            rows=nps,
            columns=ANSWER_COLUMNS,
            denominator=p["n"],
            detail=str(
                _("%(promoters)s promoters, %(detractors)s detractors")
                % {"promoters": p["promoters"], "detractors": p["detractors"]}
            ),
        ),
    ]


def survey_response_rate(scope: Scope) -> list[Figure]:
    rows = SurveyInvitation.objects.for_organization(scope.organization).filter(
        created_at__gte=scope.start, created_at__lt=scope.end
    )
    if scope.site is not None:
        rows = rows.filter(site=scope.site)
    rows = rows.order_by("created_at")
    counts = rows.order_by().aggregate(
        n=Count("id"), k=Count("id", filter=Q(answered_at__isnull=False))
    )
    return [
        Figure(
            key="survey_response_rate",
            family="survey_response_rate",
            label=str(_("Survey response rate")),
            value=ratio(counts["k"], counts["n"]),
            unit="percent",
            rows=rows,
            columns=[
                ("public_id", _("invitation")),
                patient_column(),
                ("survey__name", _("survey")),
                ("created_at", _("sent at")),
                ("answered_at", _("answered at")),
            ],
            numerator=counts["k"],
            denominator=counts["n"],
            counted=lambda r: r["answered_at"] is not None,
        )
    ]

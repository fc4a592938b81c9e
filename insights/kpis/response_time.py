"""Conversations: first response time (median, 90th percentile, weekly) and
first-contact resolution.
"""

from __future__ import annotations

from collections import defaultdict

from django.db import connection
from django.db.models import (
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
)
from django.db.models.functions import TruncWeek
from django.utils.translation import gettext_lazy as _

from conversations.models import Conversation
from insights.kpis.base import (
    Figure,
    PercentileCont,
    Scope,
    patient_column,
    percentile,
    ratio,
)

RESPONSE_TIME = ExpressionWrapper(
    F("first_response_at") - F("created_at"), output_field=DurationField()
)


def _conversations(scope: Scope) -> QuerySet:
    queryset = Conversation.objects.for_organization(scope.organization)
    if scope.site is not None:
        queryset = queryset.filter(site=scope.site)
    return queryset


def _answered(scope: Scope) -> QuerySet:
    return _conversations(scope).filter(
        created_at__gte=scope.start,
        created_at__lt=scope.end,
        first_response_at__isnull=False,
    )


def answered_conversations(scope: Scope) -> QuerySet:
    return _answered(scope).annotate(response_time=RESPONSE_TIME).order_by("created_at")


def response_time_stats(scope: Scope) -> dict:
    """Median, p90 and the median of each week (weeks in the organization's zone)."""
    rows = _answered(scope)
    week = TruncWeek("created_at", tzinfo=scope.zone)
    if connection.vendor == "postgresql":
        overall = rows.aggregate(
            n=Count("id"), p=PercentileCont(RESPONSE_TIME, (0.5, 0.9))
        )
        median, p90 = overall["p"] or (None, None)
        weekly = [
            (r["week"], r["n"], r["p"][0])
            for r in rows.annotate(week=week)
            .values("week")
            .annotate(n=Count("id"), p=PercentileCont(RESPONSE_TIME, (0.5,)))
            .order_by("week")
        ]
        count = overall["n"]
    else:
        values = list(
            rows.annotate(week=week, response_time=RESPONSE_TIME).values_list(
                "week", "response_time"
            )
        )
        times = [time for _week, time in values]
        median, p90 = percentile(times, 0.5), percentile(times, 0.9)
        by_week = defaultdict(list)
        for week_start, time in values:
            by_week[week_start].append(time)
        weekly = [(w, len(t), percentile(t, 0.5)) for w, t in sorted(by_week.items())]
        count = len(times)
    return {"median": median, "p90": p90, "count": count, "weekly": weekly}


CONVERSATION_COLUMNS = [
    ("public_id", _("conversation")),
    patient_column(),
    ("kind", _("kind")),
    ("channel", _("channel")),
    ("created_at", _("opened at")),
    ("first_response_at", _("first response")),
    ("response_time", _("response time")),
    ("staff_reply_count", _("staff replies")),
    ("reopened_count", _("reopened")),
    ("closed_at", _("closed at")),
]


def response_time_figures(scope: Scope, stats: dict | None = None) -> list[Figure]:
    stats = stats or response_time_stats(scope)
    rows = answered_conversations(scope)
    return [
        Figure(
            key=key,
            family="frt",
            label=label,
            value=stats[key.removeprefix("frt_")],
            unit="duration",
            rows=rows,
            columns=CONVERSATION_COLUMNS,
            denominator=stats["count"],
        )
        for key, label in (
            ("frt_median", _("Median first-response time")),
            ("frt_p90", _("90th percentile first-response time")),
        )
    ]


def first_contact_resolution(scope: Scope) -> list[Figure]:
    rows = (
        _conversations(scope)
        .filter(
            status=Conversation.Status.CLOSED,
            closed_at__gte=scope.start,
            closed_at__lt=scope.end,
            staff_reply_count__gte=1,
        )
        .annotate(response_time=RESPONSE_TIME)
        .order_by("closed_at")
    )
    resolved = Q(staff_reply_count=1, reopened_count=0)
    counts = rows.order_by().aggregate(n=Count("id"), k=Count("id", filter=resolved))
    return [
        Figure(
            key="fcr",
            family="fcr",
            label=str(_("First-contact resolution")),
            value=ratio(counts["k"], counts["n"]),
            unit="percent",
            rows=rows,
            columns=CONVERSATION_COLUMNS,
            numerator=counts["k"],
            denominator=counts["n"],
            counted=lambda r: r["staff_reply_count"] == 1 and r["reopened_count"] == 0,
        )
    ]

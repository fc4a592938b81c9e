"""The dashboard's figures: each one with the rows behind it.

Every function takes a ``Scope`` (organization, optional site, period
``[start, end)``) and returns ``Figure``s: the value, the counts it was
computed from, and a lazy queryset of the rows behind it, so the page, the
drill-down list and the CSV exports all read the same rows. The querysets start
from ``for_organization``: nothing of another organization can enter.

A rate is a ``Rate``: its numerator counts rows drawn from its denominator's
rows, so it is between 0 and 100 % by construction, and a query that counted
its numerator over another population fails loudly instead of showing "250 %".
A figure without data has ``value = None`` and shows "—" (never a division by
zero). The definitions, one sentence each, are in ``insights.definitions`` and
shown on the page; ``docs/insights.md`` explains the choices behind them.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import (
    Avg,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    Func,
    OuterRef,
    Q,
    QuerySet,
)
from django.db.models.functions import TruncWeek
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from clinic.models import Appointment, AppointmentStatus, Organization, Patient, Site
from consent.models import ConsentEvent, Topic
from consent.vocabulary import Channel, Purpose
from feedback.models import Answer, Question, SurveyInvitation, SurveyResponse
from insights import day_counts
from insights.second_connection import on_second_connection
from messaging.models import Conversation, Delivery, DeliveryStatus, Message
from outreach.reminders.models import Reminder, ReminderStatus

OUT = Message.Direction.OUTBOUND
IN = Message.Direction.INBOUND
# Handed to a provider (or the inbox): what a delivery rate is out of.
ATTEMPTED = [
    DeliveryStatus.UNKNOWN,
    DeliveryStatus.SENT,
    DeliveryStatus.DELIVERED,
    DeliveryStatus.READ,
    DeliveryStatus.FAILED,
    DeliveryStatus.BOUNCED,
]
DELIVERED = [DeliveryStatus.DELIVERED, DeliveryStatus.READ]


def attrition_days_default() -> int:
    return getattr(settings, "INSIGHTS_ATTRITION_DAYS", 365)


@dataclass(frozen=True)
class Scope:
    organization: Organization
    start: datetime.datetime
    end: datetime.datetime
    site: Site | None = None
    # Attrition: no interaction for this many days before the period's end.
    inactive_days: int = field(default_factory=attrition_days_default)

    @property
    def period(self) -> tuple[datetime.datetime, datetime.datetime]:
        return self.start, self.end

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.organization.time_zone)


@dataclass(frozen=True)
class Rate:
    """A share of a population: ``numerator`` counts rows drawn from the
    ``denominator``'s rows. Anything else is refused, never clamped: a
    numerator above its denominator means the two were counted over different
    populations or windows, a bug in the query to fix."""

    numerator: int
    denominator: int

    def __post_init__(self) -> None:
        if not 0 <= self.numerator <= self.denominator:
            raise ValueError(
                f"A rate of {self.numerator} out of {self.denominator}: the "
                "numerator must count rows of the denominator."
            )

    @property
    def percent(self) -> float | None:
        """0–100, or None when there is nothing to count (never 0/0)."""
        if not self.denominator:
            return None
        return 100.0 * self.numerator / self.denominator


@dataclass
class Figure:
    """One number on the dashboard and the rows it was computed from."""

    key: str  # stable: "frt_median", "delivery_rate.sms", "opt_out.topic.12"
    family: str  # the insights.definitions.DEFINITIONS entry
    label: str
    value: float | datetime.timedelta | None
    unit: str  # "percent", "duration", "score", "count"
    rows: QuerySet
    columns: list[tuple[str, str]]  # (lookup, label) of the drill-down and CSV
    numerator: int | None = None
    denominator: int | None = None
    site_scoped: bool = True
    # True for a row that counts in the numerator (shown in the drill-down).
    counted: Callable[[dict], bool] | None = None
    detail: str = ""

    def __post_init__(self) -> None:
        # Every share on the page passes through Rate's check.
        if self.unit == "percent" and self.numerator is not None:
            Rate(self.numerator, self.denominator or 0)


# --- Helpers ---------------------------------------------------------------------


def _rate(numerator: int, denominator: int) -> float | None:
    return Rate(numerator, denominator).percent


def _percentile(values: list, fraction: float):
    """Linear interpolation between closest ranks (PostgreSQL's percentile_cont)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


class PercentileCont(Func):
    """``percentile_cont(array[…]) WITHIN GROUP (ORDER BY expr)`` (PostgreSQL)."""

    template = "percentile_cont(%(fractions)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    contains_aggregate = True
    window_compatible = False

    def __init__(self, expression, fractions: tuple[float, ...], **extra):
        fractions_sql = "ARRAY[{}]::float8[]".format(
            ",".join(repr(float(f)) for f in fractions)
        )
        super().__init__(expression, fractions=fractions_sql, **extra)

    def get_group_by_cols(self):
        return []  # an aggregate: never a GROUP BY column


def _patient_column() -> tuple[str, str]:
    return ("patient__identifier", _("patient"))


# --- Response time and first-contact resolution ------------------------------------

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
        median, p90 = _percentile(times, 0.5), _percentile(times, 0.9)
        by_week = defaultdict(list)
        for week_start, time in values:
            by_week[week_start].append(time)
        weekly = [(w, len(t), _percentile(t, 0.5)) for w, t in sorted(by_week.items())]
        count = len(times)
    return {"median": median, "p90": p90, "count": count, "weekly": weekly}


CONVERSATION_COLUMNS = [
    ("public_id", _("conversation")),
    _patient_column(),
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
            value=_rate(counts["k"], counts["n"]),
            unit="percent",
            rows=rows,
            columns=CONVERSATION_COLUMNS,
            numerator=counts["k"],
            denominator=counts["n"],
            counted=lambda r: r["staff_reply_count"] == 1 and r["reopened_count"] == 0,
        )
    ]


# --- Surveys ----------------------------------------------------------------------


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
            value=_rate(c["k"], c["n"]),
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
            value=_rate(counts["k"], counts["n"]),
            unit="percent",
            rows=rows,
            columns=[
                ("public_id", _("invitation")),
                _patient_column(),
                ("survey__name", _("survey")),
                ("created_at", _("sent at")),
                ("answered_at", _("answered at")),
            ],
            numerator=counts["k"],
            denominator=counts["n"],
            counted=lambda r: r["answered_at"] is not None,
        )
    ]


# --- Deliveries, reads, engagement, opt-outs ------------------------------------


def _outbound(scope: Scope) -> QuerySet:
    return Message.objects.for_organization(scope.organization).filter(
        direction=OUT, created_at__gte=scope.start, created_at__lt=scope.end
    )


def _deliveries(scope: Scope) -> QuerySet:
    """Deliveries of the outbound messages created in the period.

    Filtered on the copies of the message's organization and creation time
    that every delivery carries (``Delivery.organization``,
    ``message_created_at``): one index answers the counts, no join with
    messages. Only outbound messages have deliveries (messages from patients
    are stored, never delivered), so the direction needs no filter."""
    return Delivery.objects.filter(
        organization=scope.organization,
        message_created_at__gte=scope.start,
        message_created_at__lt=scope.end,
    )


DELIVERY_COLUMNS = [
    ("message__public_id", _("message")),
    ("message__patient__identifier", _("patient")),
    ("channel", _("channel")),
    ("status", _("status")),
    ("reason", _("reason")),
    ("message__created_at", _("created at")),
    ("sent_at", _("sent at")),
    ("delivered_at", _("delivered at")),
    ("read_at", _("read at")),
]


def delivery_and_read_rates(scope: Scope) -> list[Figure]:
    base = _deliveries(scope)
    empty = {"attempted": 0, "delivered": 0, "read": 0}
    per_channel = defaultdict(lambda: dict(empty))
    for (channel, status), n in deliveries_by_channel_status(scope).items():
        counts = per_channel[channel]
        counts["attempted"] += n if status in ATTEMPTED else 0
        counts["delivered"] += n if status in DELIVERED else 0
        counts["read"] += n if status == DeliveryStatus.READ else 0
    # (family, label, rows' statuses, numerator, denominator, counted statuses)
    rates = [
        (
            "delivery_rate",
            _("Delivery rate: %(channel)s"),
            ATTEMPTED,
            "delivered",
            "attempted",
            DELIVERED,
        ),
        (
            "read_rate",
            _("Read rate: %(channel)s"),
            DELIVERED,
            "read",
            "delivered",
            [DeliveryStatus.READ],
        ),
    ]
    figures = []
    for family, label, statuses, numerator, denominator, counted in rates:
        for channel, name in Channel.choices:
            r = per_channel.get(channel, empty)
            figures.append(
                Figure(
                    key=f"{family}.{channel}",
                    family=family,
                    label=str(label % {"channel": name}),
                    value=_rate(r[numerator], r[denominator]),
                    unit="percent",
                    rows=base.filter(channel=channel, status__in=statuses).order_by(
                        "message_created_at", "id"
                    ),
                    columns=DELIVERY_COLUMNS,
                    numerator=r[numerator],
                    denominator=r[denominator],
                    site_scoped=False,
                    counted=lambda row, counted=counted: row["status"] in counted,
                )
            )
    return figures


MESSAGE_COLUMNS = [
    ("public_id", _("message")),
    _patient_column(),
    ("topic__slug", _("topic")),
    ("origin", _("origin")),
    ("created_at", _("created at")),
    ("read_at", _("read at")),
]


def _period_totals(
    scope: Scope,
    counted: Callable[[int, datetime.date, datetime.date], dict[Any, tuple]],
    from_rows: Callable[[Scope], Iterable[tuple[Any, tuple]]],
) -> dict[Any, tuple]:
    """key → sums over the period: the whole UTC days from the counts the
    database keeps (``counted``), the rest of the period — or all of it where
    none are kept — from the rows (``from_rows`` of a part of the scope)."""
    totals: dict[Any, tuple] = {}

    def add(key, values: tuple) -> None:
        before = totals.get(key)
        if before is not None:
            values = tuple(a + b for a, b in zip(before, values, strict=True))
        totals[key] = values

    days = day_counts.split(scope.start, scope.end)
    ranges = ((scope.start, scope.end),)
    if day_counts.kept() and days.first_day is not None:
        for key, values in counted(
            scope.organization.pk, days.first_day, days.stop_day
        ).items():
            add(key, values)
        ranges = days.edges
    for start, end in ranges:
        for key, values in from_rows(replace(scope, start=start, end=end)):
            add(key, values)
    return {key: values for key, values in totals.items() if any(values)}


def deliveries_by_channel_status(scope: Scope) -> dict[tuple[str, str], int]:
    """(channel, status) → deliveries of the outbound messages of the period."""

    def from_rows(part: Scope):
        # COUNT(*) per (channel, status): every column read is in the index,
        # so PostgreSQL counts from it alone (COUNT(id) would visit the table).
        rows = _deliveries(part).order_by().values_list("channel", "status")
        return (((c, s), (n,)) for c, s, n in rows.annotate(n=Count("*")))

    totals = _period_totals(scope, day_counts.delivery_totals, from_rows)
    return {key: n for key, (n,) in totals.items()}


def messages_by_topic(scope: Scope) -> dict[int, dict]:
    """Outbound messages of the period per topic: how many, how many read."""

    def from_rows(part: Scope):
        rows = _outbound(part).order_by().values_list("topic_id")
        counted = rows.annotate(n=Count("id"), read=Count("read_at"))
        return ((topic, (n, read)) for topic, n, read in counted)

    totals = _period_totals(scope, day_counts.message_totals, from_rows)
    return {
        topic: {"topic_id": topic, "n": n, "read": read}
        for topic, (n, read) in totals.items()
    }


def messages_read(scope: Scope, by_topic: dict[int, dict]) -> list[Figure]:
    sent = sum(r["n"] for r in by_topic.values())
    read = sum(r["read"] for r in by_topic.values())
    return [
        Figure(
            key="messages_read",
            family="messages_read",
            label=str(_("Messages read")),
            value=_rate(read, sent),
            unit="percent",
            rows=_outbound(scope).order_by("created_at", "id"),
            columns=MESSAGE_COLUMNS,
            numerator=read,
            denominator=sent,
            site_scoped=False,
            counted=lambda r: r["read_at"] is not None,
        )
    ]


def _withdrawals(scope: Scope) -> QuerySet:
    return ConsentEvent.objects.for_organization(scope.organization).filter(
        action=ConsentEvent.Action.WITHDRAWN,
        occurred_at__gte=scope.start,
        occurred_at__lt=scope.end,
    )


OPT_OUT_COLUMNS = [
    ("public_id", _("patient record")),
    ("identifier", _("patient")),
    ("opted_out", _("opted out")),
]


def opt_outs(scope: Scope) -> list[Figure]:
    """Per topic: of the patients sent a message of the topic in the period,
    those who withdrew from the topic in the period. Per purpose, the same
    for withdrawals of a whole purpose (an SMS STOP) out of the patients sent
    a message of any of its topics.

    Both counts are of distinct patients and the numerator keeps only
    withdrawals of patients in the denominator (``Exists`` of their message),
    so a withdrawal by a patient not messaged in the period, or two
    withdrawals by one patient, can never make the rate exceed 100 %."""
    messaged = _outbound(scope).filter(topic__isnull=False)
    sent_topic = messaged.filter(
        patient=OuterRef("patient_id"), topic=OuterRef("topic_id")
    )
    sent_purpose = messaged.filter(
        patient=OuterRef("patient_id"), topic__purpose=OuterRef("purpose")
    )
    withdrawals = _withdrawals(scope).order_by()
    population = {
        (key, t): n
        for key in ("topic_id", "topic__purpose")
        for t, n in messaged.order_by()
        .values_list(key)
        .annotate(n=Count("patient_id", distinct=True))
    }
    opted_out = {
        ("topic_id", t): n
        for t, n in withdrawals.filter(topic__isnull=False)
        .filter(Exists(sent_topic))
        .values_list("topic_id")
        .annotate(n=Count("patient_id", distinct=True))
    } | {
        ("topic__purpose", p): n
        for p, n in withdrawals.filter(topic__isnull=True)
        .filter(Exists(sent_purpose))
        .values_list("purpose")
        .annotate(n=Count("patient_id", distinct=True))
    }

    def rows(messages: QuerySet, withdrawn: QuerySet) -> QuerySet:
        patient = OuterRef("pk")
        return (
            Patient.objects.for_organization(scope.organization)
            .filter(Exists(messages.filter(patient=patient)))
            .annotate(opted_out=Exists(withdrawn.filter(patient=patient)))
            .order_by("identifier")
        )

    topics = {t.pk: t for t in Topic.objects.for_organization(scope.organization)}
    language = (get_language() or "en")[:2]
    figures = []
    for topic in sorted(topics.values(), key=lambda t: (t.purpose, t.slug)):
        sent = population.get(("topic_id", topic.pk), 0)
        if not sent:
            continue  # no patient to count: no figure (never "1 of 0")
        count = opted_out.get(("topic_id", topic.pk), 0)
        figures.append(
            Figure(
                key=f"opt_out.topic.{topic.pk}",
                family="opt_out",
                label=str(_("Opt-outs: %(topic)s") % {"topic": topic.name(language)}),
                value=_rate(count, sent),
                unit="percent",
                rows=rows(
                    messaged.filter(topic=topic),
                    _withdrawals(scope).filter(topic=topic),
                ),
                columns=OPT_OUT_COLUMNS,
                numerator=count,
                denominator=sent,
                site_scoped=False,
                counted=lambda r: bool(r["opted_out"]),
            )
        )
    for purpose, name in Purpose.choices:
        sent = population.get(("topic__purpose", purpose), 0)
        count = opted_out.get(("topic__purpose", purpose), 0)
        if not count:
            continue
        figures.append(
            Figure(
                key=f"opt_out.purpose.{purpose}",
                family="opt_out",
                label=str(_("Opt-outs: all of %(purpose)s") % {"purpose": name}),
                value=_rate(count, sent),
                unit="percent",
                rows=rows(
                    messaged.filter(topic__purpose=purpose),
                    _withdrawals(scope).filter(topic__isnull=True, purpose=purpose),
                ),
                columns=OPT_OUT_COLUMNS,
                numerator=count,
                denominator=sent,
                site_scoped=False,
                counted=lambda r: bool(r["opted_out"]),
            )
        )
    return figures


# --- Appointments ------------------------------------------------------------------


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
        _patient_column(),
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
                value=_rate(c["confirmed"], c["pending"]),
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
                value=_rate(c["no_show"], c["closed"]),
                unit="percent",
                rows=rows.filter(closed, reminded=reminded),
                columns=columns,
                numerator=c["no_show"],
                denominator=c["closed"],
                counted=lambda r: r["status"] == status.NO_SHOW,
            ),
        ]
    return figures


# --- Portal engagement and attrition ----------------------------------------------

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
            value=_rate(counts["k"], counts["n"]),
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
            value=_rate(count, total),
            unit="percent",
            rows=lapsed,
            columns=PATIENT_COLUMNS,
            numerator=count,
            denominator=total,
            site_scoped=False,
        )
    ]


# --- Everything --------------------------------------------------------------------

SECTIONS = [
    (_("Conversations"), ("frt", "fcr")),
    (_("Satisfaction"), ("csat", "nps", "survey_response_rate")),
    (_("Messages"), ("delivery_rate", "read_rate", "messages_read", "opt_out")),
    (_("Appointments"), ("confirmation_rate", "no_show_rate")),
    (_("Engagement"), ("active_users", "attrition")),
]


@dataclass
class Dashboard:
    scope: Scope
    figures: list[Figure]
    response_times: dict

    def by_family(self, family: str) -> list[Figure]:
        return [f for f in self.figures if f.family == family]

    def get(self, key: str) -> Figure | None:
        return next((f for f in self.figures if f.key == key), None)


@contextmanager
def _no_jit() -> Iterator[None]:
    """The dashboard's queries in one transaction with JIT compilation off.

    PostgreSQL compiles the big aggregates (half a million rows and more) with
    LLVM, which added about 50 ms to the delivery query of bench/insights.py:
    ``SET LOCAL`` turns it off for these queries only (it ends with the
    transaction). The queries only read, so the transaction changes nothing else.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
        yield


def _patient_centred(scope: Scope) -> list[Figure]:
    with _no_jit():
        return [*active_users(scope), *attrition(scope)]


def dashboard(scope: Scope) -> Dashboard:
    # Started first: on a second connection while this one does the rest.
    patient_centred = on_second_connection(lambda: _patient_centred(scope))
    with _no_jit():
        stats = response_time_stats(scope)
        by_topic = messages_by_topic(scope)
        figures = [
            *response_time_figures(scope, stats),
            *first_contact_resolution(scope),
            *survey_scores(scope),
            *survey_response_rate(scope),
            *delivery_and_read_rates(scope),
            *messages_read(scope, by_topic),
            *opt_outs(scope),
            *appointment_rates(scope),
        ]
    figures += patient_centred()
    return Dashboard(scope=scope, figures=figures, response_times=stats)


# The families a drill-down recomputes, so one figure's rows cost one family.
FAMILY_FUNCTIONS: dict[str, Callable[[Scope], list[Figure]]] = {
    "frt": response_time_figures,
    "fcr": first_contact_resolution,
    "csat": survey_scores,
    "nps": survey_scores,
    "survey_response_rate": survey_response_rate,
    "delivery_rate": delivery_and_read_rates,
    "read_rate": delivery_and_read_rates,
    "messages_read": lambda scope: messages_read(scope, messages_by_topic(scope)),
    "opt_out": opt_outs,
    "confirmation_rate": appointment_rates,
    "no_show_rate": appointment_rates,
    "active_users": active_users,
    "attrition": attrition,
}


def figure_get(scope: Scope, key: str) -> Figure | None:
    family = key.split(".")[0]
    family = {"frt_median": "frt", "frt_p90": "frt"}.get(family, family)
    family = {"csat_share": "csat", "csat_mean": "csat"}.get(family, family)
    function = FAMILY_FUNCTIONS.get(family)
    if function is None:
        return None
    with _no_jit():
        return next((f for f in function(scope) if f.key == key), None)

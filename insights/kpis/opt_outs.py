"""Opt-outs: withdrawals of consent after messages, per topic and per purpose."""

from __future__ import annotations

from django.db.models import (
    Count,
    Exists,
    OuterRef,
    QuerySet,
)
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from clinic.models import Patient
from consent.models import ConsentEvent, Topic
from consent.vocabulary import Purpose
from insights.kpis.base import Figure, Scope, ratio
from insights.kpis.deliveries import outbound_messages


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
    messaged = outbound_messages(scope).filter(topic__isnull=False)
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
                value=ratio(count, sent),
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
                value=ratio(count, sent),
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

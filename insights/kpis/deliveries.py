"""Messages: delivery and read rates per channel, and the messages read per
topic (from the day counts where whole days allow, insights.day_counts).
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from django.db.models import (
    Count,
    QuerySet,
)
from django.utils.translation import gettext_lazy as _

from consent.vocabulary import Channel
from insights import day_counts
from insights.kpis.base import (
    ATTEMPTED,
    DELIVERED,
    OUT,
    Figure,
    Scope,
    patient_column,
    ratio,
)
from messaging.models import Delivery, DeliveryStatus, Message


def outbound_messages(scope: Scope) -> QuerySet:
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
                    value=ratio(r[numerator], r[denominator]),
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
    patient_column(),
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
        rows = outbound_messages(part).order_by().values_list("topic_id")
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
            value=ratio(read, sent),
            unit="percent",
            rows=outbound_messages(scope).order_by("created_at", "id"),
            columns=MESSAGE_COLUMNS,
            numerator=read,
            denominator=sent,
            site_scoped=False,
            counted=lambda r: r["read_at"] is not None,
        )
    ]

"""Shared by every family of figures: the ``Scope`` they are computed over,
the ``Rate`` and ``Figure`` they return, and the helpers that compute them.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import (
    Func,
    QuerySet,
)
from django.utils.translation import gettext_lazy as _

from clinic.models import Organization, Site
from messaging.models import DeliveryStatus, Message

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


def ratio(numerator: int, denominator: int) -> float | None:
    return Rate(numerator, denominator).percent


def percentile(values: list, fraction: float):
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


def patient_column() -> tuple[str, str]:
    return ("patient__identifier", _("patient"))
